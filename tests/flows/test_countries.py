"""Typed country names and places in six languages to ISO codes."""

from __future__ import annotations

import pytest

from flows import NOT_LISTED, CountryMatcher, split_place
from flows.countries import MAX_CANDIDATES


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("ukraine", "en"),
        ("Ukraine", "fr"),
        ("Ucrania", "es"),
        ("أوكرانيا", "ar"),
        ("Украина", "ru"),
        ("  UKRAINE ", "en"),
        ("украина", "ru"),
        ("ucrania", "es"),
        ("UA", "en"),
        ("UKR", "fr"),
        ("Ukriane", "en"),
    ],
)
def test_ukraine_in_every_language(countries: CountryMatcher, text: str, lang: str) -> None:
    assert countries.match(text, lang) == ["UA"]


@pytest.mark.parametrize(
    ("text", "lang", "code"),
    [
        ("Côte d'Ivoire", "fr", "CI"),
        ("cote d ivoire", "fr", "CI"),
        ("Ivory Coast", "en", "CI"),
        ("États-Unis", "fr", "US"),
        ("etats unis", "fr", "US"),
        ("Estados Unidos", "es", "US"),
        ("Россия", "ru", "RU"),
        ("Russia", "en", "RU"),
        ("Rusia", "es", "RU"),
        ("روسيا", "ar", "RU"),
        ("مصر", "ar", "EG"),
        ("اليمن", "ar", "YE"),
        ("يمن", "ar", "YE"),
        ("الأردن", "ar", "JO"),
        ("México", "es", "MX"),
        ("mexico", "es", "MX"),
        ("The Gambia", "en", "GM"),
        ("Turkey", "en", "TR"),
        ("Türkiye", "en", "TR"),
        ("Turquie", "fr", "TR"),
        ("Беларусь", "ru", "BY"),
        ("Белоруссия", "ru", "BY"),
        ("Burma", "en", "MM"),
        ("Kosovo", "en", "XK"),
        ("Syria", "en", "SY"),
        ("Iran", "en", "IR"),
        ("Allemagne", "fr", "DE"),
        ("Alemania", "es", "DE"),
        ("Германия", "ru", "DE"),
        ("ألمانيا", "ar", "DE"),
        ("Soudan du Sud", "fr", "SS"),
    ],
)
def test_names_people_type(countries: CountryMatcher, text: str, lang: str, code: str) -> None:
    assert countries.match(text, lang) == [code]


def test_exact_guinea_is_guinea(countries: CountryMatcher) -> None:
    assert countries.match("Guinea", "en") == ["GN"]
    assert countries.match("Guinée", "fr") == ["GN"]


def test_a_prefix_gives_candidates(countries: CountryMatcher) -> None:
    assert set(countries.match("guin", "en")) == {"GN", "GW", "GQ", "PG"}


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("congo", "en"),
        ("Congo", "fr"),
        ("Congo", "es"),
        ("Конго", "ru"),
        ("الكونغو", "ar"),
    ],
)
def test_congo_is_ambiguous_in_every_language(
    countries: CountryMatcher, text: str, lang: str
) -> None:
    assert sorted(countries.match(text, lang)) == ["CD", "CG"]


def test_korea_is_ambiguous(countries: CountryMatcher) -> None:
    assert sorted(countries.match("Korea", "en")) == ["KP", "KR"]


def test_candidates_are_capped(countries: CountryMatcher) -> None:
    assert len(countries.match("island", "en")) == MAX_CANDIDATES


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a",
        "no",
        "xyzzyq",
        "\x00\xff",
        "\u202e",
        "'; DROP TABLE x;--",
        "x" * 10_000,
        "\ud800",
    ],
)
def test_nothing_matches_junk(countries: CountryMatcher, text: str) -> None:
    found = countries.match(text, "en")
    assert found != ["NO"]  # lower-case "no" is a word: never taken as Norway outright
    assert len(found) <= MAX_CANDIDATES
    if text.strip() in ("", "a", "xyzzyq", "\x00\xff", "\u202e", "\ud800") or len(text) > 100:
        assert found == []


def test_names_in_each_language(countries: CountryMatcher) -> None:
    assert countries.name("DE", "fr") == "Allemagne"
    assert countries.name("DE", "ru") == "Германия"
    assert countries.name("DE", "ar") == "ألمانيا"
    assert countries.name("DE", "es") == "Alemania"
    assert countries.name("DE", "xx") == "Germany"
    assert countries.name("ZZ", "en") == "ZZ"


def test_every_iso_country_has_a_name(countries: CountryMatcher) -> None:
    assert len(countries.codes) == 250  # 249 ISO 3166-1 countries, and Kosovo (XK)
    for code in countries.codes:
        for lang in ("en", "fr", "es", "ar", "ru"):
            assert countries.name(code, lang) != code


# -- places as people name them (CountryMatcher.find) ------------------------------

# (typed, chat language, answer code): taken or offered for confirmation, in every
# chat language whatever the language of the name.
PLACES = [
    # capitals and major cities, in several scripts
    ("Nairobi", "en", "KE"),
    ("Найроби", "ru", "KE"),
    ("نيروبي", "ar", "KE"),
    ("Tbilisi", "fr", "GE-TB"),
    ("Тбілісі", "uk", "GE-TB"),
    ("Mexico City", "en", "MX"),
    ("Ciudad de México", "es", "MX-CMX"),
    ("Киев", "ru", "UA-30"),
    ("Київ", "uk", "UA-30"),
    ("Lviv", "en", "UA"),
    ("Львов", "ar", "UA"),
    ("Dakar", "fr", "SN-DK"),
    ("Rome", "en", "IT"),
    ("Minsk", "es", "BY"),
    ("القاهرة", "ar", "EG"),
    # first-level subdivisions and disputed territories
    ("Crimea", "en", "UA-43"),
    ("Крым", "ru", "UA-43"),
    ("Крим", "uk", "UA-43"),
    ("القرم", "ar", "UA-43"),
    ("Crimée", "fr", "UA-43"),
    ("Gaza", "en", "PS-GZA"),
    ("غزة", "ar", "PS-GZA"),
    ("Franja de Gaza", "es", "PS-GZA"),
    ("Tibet", "fr", "CN-XZ"),
    ("Тибет", "ru", "CN-XZ"),
    ("Abkhazia", "en", "GE-AB"),
    ("Приднестровье", "ru", "MD-SN"),
    ("Cisjordanie", "fr", "PS"),
    ("Donbas", "uk", "UA"),
    # "country, place" in either order narrows to the place in that country
    ("Kenya, Nairobi", "en", "KE"),
    ("Nairobi, Kenya", "fr", "KE"),
    ("Україна, Крим", "uk", "UA-43"),
    # typos: offered, never taken without asking
    ("Nairobbi", "en", "KE"),
    ("Tblisi", "en", "GE"),
    ("Ukriane", "en", "UA"),
    ("Keniya", "es", "KE"),
]


@pytest.mark.parametrize(("text", "lang", "code"), PLACES)
def test_places_are_offered_for_confirmation(
    countries: CountryMatcher, text: str, lang: str, code: str
) -> None:
    found = countries.find(text, lang)
    assert [place.code for place in found.places] == [code]
    assert not found.sure  # a city, a region or a typo is confirmed by the defender


# Taken at once: one country named exactly, by name or short form in any language,
# by its ISO code, or by its flag.
COUNTRIES = [
    ("Кения", "en", "KE"),
    ("كينيا", "en", "KE"),
    ("Kenia", "es", "KE"),
    ("Кенія", "fr", "KE"),
    ("Украина", "en", "UA"),
    ("Ucrania", "ar", "UA"),
    ("Україна", "ru", "UA"),
    ("РФ", "en", "RU"),
    ("Росія", "uk", "RU"),
    ("Кыргызстан", "en", "KG"),
    ("Киргизстан", "uk", "KG"),
    ("США", "fr", "US"),
    ("UAE", "ar", "AE"),
    ("Géorgie", "en", "GE"),
    ("KE", "ru", "KE"),
    ("KEN", "uk", "KE"),
    ("UA-43", "en", "UA-43"),
    ("🇰🇪", "en", "KE"),
    ("🇺🇦", "ar", "UA"),
    ("\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "en", "GB-SCT"),
]


@pytest.mark.parametrize(("text", "lang", "code"), COUNTRIES)
def test_countries_codes_and_flags_are_taken(
    countries: CountryMatcher, text: str, lang: str, code: str
) -> None:
    found = countries.find(text, lang)
    assert found.sure
    assert [place.code for place in found.places] == [code]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Kashmir", {"IN", "PK"}),
        ("Hyderabad", {"IN", "PK"}),
        ("congo", {"CD", "CG"}),
    ],
)
def test_ambiguous_places_give_choices(
    countries: CountryMatcher, text: str, codes: set[str]
) -> None:
    found = countries.find(text, "en")
    assert {place.code for place in found.places} == codes
    assert not found.sure


@pytest.mark.parametrize("text", ["Atlantis", "Narnia", "xyzzyq", "", "no", "x" * 200])
def test_no_place(countries: CountryMatcher, text: str) -> None:
    assert countries.find(text, "en").places == ()


def test_places_are_named_in_the_chat_language(countries: CountryMatcher) -> None:
    assert countries.find("Nairobi", "fr").places[0].name == "Nairobi, Kenya"
    assert countries.find("Nairobi", "ru").places[0].name == "Nairobi, Кения"
    assert countries.find("Найроби", "uk").places[0].name == "Найроби, Кенія"
    assert countries.find("نيروبي", "ar").places[0].name == "نيروبي، كينيا"  # Arabic comma
    assert countries.name("UA-43", "en") == "Crimea, Ukraine"
    assert countries.name("UA-43", "uk") == "Автономна Республіка Крим, Україна"
    assert countries.name("CN-XZ", "ar") == "Tibet، الصين"


def test_split_place() -> None:
    assert split_place("UA-43") == ("UA", "UA-43")
    assert split_place("KE") == ("KE", None)
    assert split_place(NOT_LISTED) == (None, None)
    assert split_place(None) == (None, None)


def test_city_data_is_read_only_when_needed() -> None:
    """The city table (the slow part) is not read for a country or a region."""
    matcher = CountryMatcher()
    assert matcher.find("Kenya", "en").sure
    assert matcher.find("Crimea", "en").places[0].code == "UA-43"
    assert "_cities" not in vars(matcher)
    assert matcher.find("Nairobi", "en").places[0].code == "KE"
    assert "_cities" in vars(matcher)


def test_prepare_builds_everything_before_the_first_defender() -> None:
    matcher = CountryMatcher()
    matcher.prepare()
    assert {"_exact", "_subdivisions", "_cities", "_fuzzy_keys"} <= set(vars(matcher))
