"""Turning a place as people name it, in any supported language, into ISO codes.

What the defender may type at a country step, whatever the chat's language:
a country's name or short form ("Kenya", "Кения", "كينيا", "РФ"), an ISO code
("KE", "KEN", "UA-43"), a flag ("🇰🇪"), a city ("Nairobi", "Киев"), a
first-level subdivision or a disputed territory ("Crimea", "Gaza", "Tibet"),
"Kenya, Nairobi", or any of these with a typo. :meth:`CountryMatcher.find`
says what it may mean and whether it can be taken without asking.

The answer it records is described in :mod:`flows.place_answer`.

Nothing is read until the first lookup; the tables are then cached on the
matcher. The large city table is read only when a place is neither a country
nor a subdivision (see :mod:`flows.places`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property

import pycountry
from rapidfuzz import process
from rapidfuzz.distance import OSA

from flows import places
from flows.normalize import fold
from flows.place_answer import Place, PlaceMatch, split_place

__all__ = ["MAX_CANDIDATES", "CountryMatcher"]

MAX_CANDIDATES = 8
_MAX_QUERY = 100
# Optimal string alignment similarity (a swap of two letters is one edit): one typo
# in five letters (0.8) is taken as a candidate, "Ukriane" scores 0.86, but
# "Atlantis" against "Atlant" only 0.75.
_FUZZY_CUTOFF = 0.8
_FUZZY_SPREAD = 0.05  # candidates this close to the best one are offered too
_CODE_RE = re.compile(r"^[A-Z]{2,3}$")
_SUBCODE_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_PARTS_RE = re.compile("[,;/\u060c]")
# How a place and its country are joined ("Nairobi, Kenya"); Arabic has its own comma.
_SEPARATORS = {"ar": "، "}


class CountryMatcher:
    """Matches typed places; build it once and share it (it caches its tables)."""

    def __init__(self, languages: Iterable[str] = places.NAME_LANGUAGES) -> None:
        self._languages = tuple(dict.fromkeys((*places.NAME_LANGUAGES, *languages)))
        self._codes = places.country_codes()
        self._display: dict[str, dict[str, str]] = {}
        self._entries: dict[str, tuple[tuple[str, str], ...]] = {}

    # -- tables, built on first use ------------------------------------------

    @cached_property
    def _by_code(self) -> dict[str, str]:
        found = {code: code for code in self._codes}
        found.update({c.alpha_3: c.alpha_2 for c in pycountry.countries})
        found["XKX"] = "XK"
        return found

    @cached_property
    def _exact(self) -> dict[str, frozenset[str]]:
        """Folded country names in every language -> codes."""
        names: list[tuple[str, str]] = []  # (name, code)
        for country in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                value = getattr(country, attribute, None)
                if isinstance(value, str):
                    names.append((value, country.alpha_2))
        for code, aliases in places.ALIASES.items():
            names.extend((alias, code) for alias in aliases)
        for lang in self._languages:
            names.extend((name, code) for code, name in self._territories(lang).items())
        strong: dict[str, set[str]] = {}
        weak: dict[str, set[str]] = {}
        for name, code in names:
            found, parts = places.variants(name)
            for variant in found:
                strong.setdefault(variant, set()).add(code)
            for variant in parts:
                weak.setdefault(variant, set()).add(code)
        exact = {**weak, **strong}
        return {key: frozenset(codes) for key, codes in exact.items()}

    @cached_property
    def _territory_aliases(self) -> places.Table:
        return places.territory_table()

    @cached_property
    def _subdivisions(self) -> places.Table:
        return places.subdivision_table(self._languages)

    @cached_property
    def _subdivision_names(self) -> dict[str, dict[str, str]]:
        return places.subdivision_names(self._languages)

    @cached_property
    def _cities(self) -> places.Table:
        return places.city_table()

    @cached_property
    def _fuzzy_keys(self) -> tuple[str, ...]:
        keys = (*self._exact, *self._territory_aliases, *self._subdivisions, *self._cities)
        return tuple(dict.fromkeys(keys))

    def _territories(self, lang: str) -> dict[str, str]:
        if lang not in self._display:
            self._display[lang] = places.cldr_names(lang, self._codes)
        return self._display[lang]

    def _ordered(self, lang: str) -> tuple[tuple[str, str], ...]:
        """(folded name, code) of every country name, by display name in ``lang``."""
        if lang not in self._entries:
            own = self._territories(lang)
            rows = sorted(
                (fold(own.get(code, code)), folded, code)
                for folded, codes in self._exact.items()
                for code in codes
            )
            self._entries[lang] = tuple((folded, code) for _shown, folded, code in rows)
        return self._entries[lang]

    def prepare(self) -> None:
        """Build every table now (about 2 s, mostly reading the city data) rather
        than at the first defender who names a city: for a server's start-up."""
        # Reading the cached properties builds them (the fuzzy keys need every table).
        built = (self._exact, self._fuzzy_keys, self._subdivision_names)
        del built

    @property
    def codes(self) -> tuple[str, ...]:
        """Every country code this matcher can return."""
        return self._codes

    # -- country names only ------------------------------------------------------

    def match(self, text: str, lang: str) -> list[str]:
        """The country codes whose names match ``text`` (no cities, no regions).

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
        if query in self._exact:
            return sorted(self._exact[query])
        found = self._prefixed(query, lang)
        if not found and len(query) >= 4:
            for close in difflib.get_close_matches(
                query, tuple(self._exact), n=MAX_CANDIDATES, cutoff=0.8
            ):
                found.extend(code for code in sorted(self._exact[close]) if code not in found)
        return found[:MAX_CANDIDATES]

    def _sorted(self, codes: Iterable[str], lang: str) -> list[str]:
        return sorted(codes, key=lambda code: (fold(self.name(code, lang)), code))

    def _prefixed(self, query: str, lang: str) -> list[str]:
        found: list[str] = []
        tests: list[Callable[[str], bool]] = [
            lambda name: name.startswith(query),
            lambda name: f" {query}" in f" {name}",
        ]
        if len(query) >= 3:
            tests.append(lambda name: query in name)
        for test in tests:
            for name, code in self._ordered(lang):
                if code not in found and test(name):
                    found.append(code)
        return found

    # -- places --------------------------------------------------------------------

    def find(self, text: str, lang: str) -> PlaceMatch:
        """What the place ``text`` may mean, for someone writing in ``lang``.

        "Kenya, Nairobi" is read part by part: the country named narrows the
        other parts ("Nairobi, Kenya"), and is the answer when nothing else matches.
        """
        raw = text.strip()
        if not raw or len(raw) > _MAX_QUERY:
            return PlaceMatch()
        parts = [part for part in _PARTS_RE.split(raw) if part.strip()]
        if len(parts) < 2:
            return self._find_one(raw, lang)
        found = [self._find_one(part, lang) for part in parts]
        countries = {m.places[0].code for m in found if m.sure}
        narrowed = [
            place
            for m in found
            if not m.sure
            for place in m.places
            if split_place(place.code)[0] in countries
        ]
        if narrowed:
            return PlaceMatch(self._unique(narrowed))
        if len(countries) == 1:
            return next(m for m in found if m.sure)
        return PlaceMatch(self._unique(p for m in found for p in m.places))

    def _find_one(self, raw: str, lang: str) -> PlaceMatch:
        raw = raw.strip()
        code = places.flag(raw) or raw
        if _CODE_RE.match(code) and code in self._by_code:
            return PlaceMatch((self._place(self._by_code[code], lang),), sure=True)
        if _SUBCODE_RE.match(code) and code in self._subdivision_names["en"]:
            return PlaceMatch((self._place(code, lang),), sure=True)
        if _SUBCODE_RE.match(code) and code[:2] in self._by_code:  # e.g. a flag of GB-SCT
            return PlaceMatch((self._place(code[:2], lang),), sure=True)
        query = fold(raw)
        if len(query) < 2:
            return PlaceMatch()
        if query in self._exact:
            codes = sorted(self._exact[query])
            return PlaceMatch(tuple(self._place(c, lang) for c in codes), sure=len(codes) == 1)
        # Tables in order of precedence, the city table read only when reached.
        for table in self._tables():
            if query in table:
                return PlaceMatch(self._from_table(table[query], query, lang))
        prefixed = self._prefixed(query, lang) if len(query) >= 3 else []
        if prefixed:
            return PlaceMatch(tuple(self._place(c, lang) for c in prefixed[:MAX_CANDIDATES]))
        return PlaceMatch(self._fuzzy(query, lang))

    def _fuzzy(self, query: str, lang: str) -> tuple[Place, ...]:
        if len(query) < 4:
            return ()
        scored = process.extract(
            query,
            self._fuzzy_keys,
            scorer=OSA.normalized_similarity,
            score_cutoff=_FUZZY_CUTOFF,
            limit=20,
        )
        if not scored:
            return ()
        best = scored[0][1]
        found: list[Place] = []
        for key, score, _index in scored:
            if score < best - _FUZZY_SPREAD:
                break
            if key in self._exact:
                found.extend(
                    self._place(code, lang) for code in self._sorted(self._exact[key], lang)
                )
            for table in self._tables():
                found.extend(self._from_table(table.get(key, ()), key, lang))
        return self._unique(found)

    def _tables(self) -> Iterator[places.Table]:
        yield self._territory_aliases
        yield self._subdivisions
        yield self._cities

    def _from_table(
        self, entries: Iterable[tuple[str, str]], query: str, lang: str
    ) -> tuple[Place, ...]:
        """One place per code, named as the source spells the matched name
        (the spelling typed first: "Крим" rather than "Автономна Республіка Крим")."""
        shown: dict[str, str] = {}
        for code, name in sorted(entries, key=lambda entry: (fold(entry[1]) != query, entry)):
            shown.setdefault(code, name)
        found = [Place(code, self._with_country(name, code, lang)) for code, name in shown.items()]
        return self._unique(sorted(found, key=lambda place: fold(place.name)))

    @staticmethod
    def _unique(found: Iterable[Place]) -> tuple[Place, ...]:
        seen: dict[str, Place] = {}
        for place in found:
            seen.setdefault(place.code, place)
        return tuple(seen.values())[:MAX_CANDIDATES]

    def _with_country(self, name: str, code: str, lang: str) -> str:
        country = self.name(split_place(code)[0] or code, lang)
        if fold(name) == fold(country):
            return country
        return f"{name}{_SEPARATORS.get(lang, ', ')}{country}"

    def _place(self, code: str, lang: str) -> Place:
        return Place(code, self.name(code, lang))

    def name(self, code: str, lang: str) -> str:
        """The name of a country or subdivision code in ``lang`` (English if unknown
        there, else the code): "Allemagne"; "Crimea, Ukraine" for "UA-43"."""
        country, subdivision = split_place(code)
        if subdivision is not None and country is not None:
            names = self._subdivision_names
            own = names.get(lang, {}).get(subdivision)
            english = names["en"].get(subdivision)
            usual = places.territory_names().get(subdivision)
            shown = own if own and own != english else usual or english or subdivision
            return f"{shown}{_SEPARATORS.get(lang, ', ')}{self.name(country, lang)}"
        own_names = self._territories(lang) if lang in self._languages else {}
        return own_names.get(code) or self._territories("en").get(code) or code
