"""What a country step records, and what the caller (the intake) reads.

The answer a country step records (``Submit.answers[step]``) is one string:

- ``"KE"``: an ISO 3166-1 alpha-2 code (or ``"XK"``, Kosovo), as before;
- ``"UA-43"``: an ISO 3166-2 first-level subdivision code; its country is the
  part before the hyphen (see :func:`split_place`);
- ``"ZZ"`` (:data:`NOT_LISTED`): the defender chose "my country is not
  listed"; what they typed is then ``Submit.answers[step + ".place"]``.

``RoutingFacts.country`` is always the alpha-2 country (None for "not
listed") and ``RoutingFacts.subdivision`` the ISO 3166-2 code when one was named.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOT_LISTED", "PLACE_SUFFIX", "Place", "PlaceMatch", "split_place"]

NOT_LISTED = "ZZ"  # CLDR's "Unknown Region"; never a real country
PLACE_SUFFIX = ".place"  # answers[step + PLACE_SUFFIX]: the typed place, when not listed


def split_place(code: str | None) -> tuple[str | None, str | None]:
    """``(country, subdivision)`` of a country step's answer: "UA-43" -> ("UA",
    "UA-43"), "KE" -> ("KE", None), "ZZ" or None -> (None, None)."""
    if not code or code == NOT_LISTED:
        return None, None
    if "-" in code:
        return code.split("-", 1)[0], code
    return code, None


@dataclass(frozen=True)
class Place:
    """One thing a typed place may mean: its answer code and how to show it."""

    code: str
    name: str


@dataclass(frozen=True)
class PlaceMatch:
    """What :meth:`CountryMatcher.find` found. ``sure``: one country named
    exactly (a name, a code, a flag), taken without asking; otherwise the
    defender confirms the one place or chooses among several."""

    places: tuple[Place, ...] = ()
    sure: bool = False
