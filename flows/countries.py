"""Turning a typed country name, in any supported language, into ISO codes.

Names come from CLDR (through Babel) in the chosen language and in English,
from pycountry (short, official and common names) and from a short list of
names people commonly use that neither source has ("Turkey", "Burma",
"DRC"). Everything is folded (see :func:`flows.normalize.fold`) and indexed
once, when the matcher is built.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pycountry
from babel import Locale

from flows.normalize import fold

__all__ = ["MAX_CANDIDATES", "CountryMatcher"]

MAX_CANDIDATES = 8
_MAX_QUERY = 100
# Kosovo: not in ISO 3166-1 but user-assigned "XK" is what the EU and CLDR use,
# and defenders there need a route too.
_EXTRA_CODES = ("XK",)
# Names people type that the data sources lack, matched in every language.
_ALIASES: dict[str, tuple[str, ...]] = {
    "CD": ("Congo", "DRC", "DR Congo", "RDC", "RD Congo", "Zaire", "Конго", "الكونغو"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales"),
    "US": ("USA", "U.S.A.", "U.S.", "America"),
    "TR": ("Turkey", "Turkiye"),
    "CZ": ("Czech Republic", "República Checa", "République tchèque"),
    "MK": ("Macedonia", "Macédoine", "Македония"),
    "SZ": ("Swaziland", "Свазиленд"),
    "TL": ("East Timor",),
    "CV": ("Cape Verde",),
    "NL": ("Holland",),
    "VA": ("Vatican",),
    "PS": ("Palestine", "Palestina", "Палестина", "فلسطين"),
    "CI": ("Ivory Coast",),
    "MM": ("Burma",),
    "BY": ("Byelorussia", "Белоруссия"),
    "MD": ("Молдавия",),
}
_SPLIT_RE = re.compile(r"\s+-\s+|[()]")
_CODE_RE = re.compile(r"^[A-Z]{2,3}$")


def _variants(name: str) -> set[str]:
    """A name and its useful parts: "Myanmar (Burma)" -> also "Myanmar", "Burma";
    "Korea, Republic of" -> also "Korea"; "Congo - Kinshasa" -> "Congo", "Kinshasa"."""
    found = {fold(name)}
    found.add(fold(name.split(",", 1)[0]))
    found.update(fold(part) for part in _SPLIT_RE.split(name))
    return {variant for variant in found if len(variant) >= 2}


@dataclass(frozen=True)
class _Index:
    exact: dict[str, frozenset[str]]
    entries: tuple[tuple[str, str], ...]  # (folded name, code), ordered by display name
    names: tuple[str, ...]


class CountryMatcher:
    """Matches typed country names; build it once and share it."""

    def __init__(self, languages: Iterable[str] = ("en", "fr", "es", "ar", "ru")) -> None:
        self._codes = tuple(sorted({c.alpha_2 for c in pycountry.countries} | set(_EXTRA_CODES)))
        self._by_code = {code: code for code in self._codes}
        for country in pycountry.countries:
            self._by_code[country.alpha_3] = country.alpha_2
        self._by_code["XKX"] = "XK"
        universal: dict[str, set[str]] = {}
        for country in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                value = getattr(country, attribute, None)
                if isinstance(value, str):
                    for variant in _variants(value):
                        universal.setdefault(variant, set()).add(country.alpha_2)
        for code, aliases in _ALIASES.items():
            for alias in aliases:
                universal.setdefault(fold(alias), set()).add(code)
        self._universal = universal
        self._display: dict[str, dict[str, str]] = {}
        self._indexes: dict[str, _Index] = {}
        for lang in ("en", *languages):
            if lang not in self._indexes:
                self._indexes[lang] = self._build(lang)

    def _territories(self, lang: str) -> dict[str, str]:
        if lang not in self._display:
            names = Locale.parse(lang).territories
            self._display[lang] = {code: str(names[code]) for code in self._codes if code in names}
        return self._display[lang]

    def _build(self, lang: str) -> _Index:
        exact: dict[str, set[str]] = {key: set(codes) for key, codes in self._universal.items()}
        entries: list[tuple[str, str, str]] = []  # (display name, folded, code)
        own = self._territories(lang)
        english = self._territories("en")
        for code in self._codes:
            for source in (own, english):
                if code in source:
                    for variant in _variants(source[code]):
                        exact.setdefault(variant, set()).add(code)
        for folded, codes in exact.items():
            for code in codes:
                entries.append((fold(own.get(code, code)), folded, code))
        entries.sort()
        return _Index(
            exact={key: frozenset(codes) for key, codes in exact.items()},
            entries=tuple((folded, code) for _display, folded, code in entries),
            names=tuple(exact),
        )

    def _index(self, lang: str) -> _Index:
        return self._indexes.get(lang) or self._indexes["en"]

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code this matcher can return."""
        return self._codes

    def match(self, text: str, lang: str) -> list[str]:
        """Return the codes matching ``text`` typed by someone using ``lang``.

        One code: an exact name (or alpha-2/alpha-3 code typed in capitals),
        or a single candidate. Several (at most :data:`MAX_CANDIDATES`): let
        the person choose. Empty: nothing looks like it.
        """
        raw = text.strip()
        if not raw or len(raw) > _MAX_QUERY:
            return []
        if _CODE_RE.match(raw) and raw in self._by_code:
            return [self._by_code[raw]]
        query = fold(raw)
        if len(query) < 2:
            return []
        index = self._index(lang)
        if query in index.exact:
            return sorted(index.exact[query])
        found: list[str] = []
        tests: list[Callable[[str], bool]] = [
            lambda name: name.startswith(query),
            lambda name: f" {query}" in f" {name}",
        ]
        if len(query) >= 3:
            tests.append(lambda name: query in name)
        for test in tests:
            for name, code in index.entries:
                if code not in found and test(name):
                    found.append(code)
        if not found and len(query) >= 4:
            for close in difflib.get_close_matches(
                query, index.names, n=MAX_CANDIDATES, cutoff=0.8
            ):
                found.extend(code for code in sorted(index.exact[close]) if code not in found)
        return found[:MAX_CANDIDATES]

    def name(self, code: str, lang: str) -> str:
        """The country's name in ``lang`` (English if unknown there, else the code)."""
        own = self._territories(lang) if lang in self._indexes else {}
        return own.get(code) or self._territories("en").get(code) or code
