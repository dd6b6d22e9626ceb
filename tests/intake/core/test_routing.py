from __future__ import annotations

import pytest

from intake.config import RoutingRule
from intake.core.routing import Router, RoutingFacts
from intake.errors import RoutingError

DIRECTORY = {"UA": ["eu-del-ua", "nl-emb-ua"], "KE": ["eu-del-ke"]}
KNOWN = {"eu-del-ua", "nl-emb-ua", "eu-del-ke", "eeas-hq", "eu-hrd-fund"}


def router(rules: list[RoutingRule], fallback: str | None = "eeas-hq") -> Router:
    return Router(rules, fallback, lambda c: DIRECTORY.get(c, []), KNOWN.__contains__)


def facts(**kw: object) -> RoutingFacts:
    base: dict[str, object] = {
        "kind": "threat_report",
        "country": "UA",
        "category": (),
        "urgency": "days",
    }
    base.update(kw)
    return RoutingFacts(**base)  # type: ignore[arg-type]


def test_directory_serves_the_country() -> None:
    assert router([]).route(facts()) == "eu-del-ua"
    assert router([]).route(facts(country="KE")) == "eu-del-ke"


def test_first_matching_rule_wins() -> None:
    rules = [
        RoutingRule(
            mission="eu-hrd-fund", kinds=("assistance_request",), categories=("emergency_grant",)
        ),
        RoutingRule(mission="nl-emb-ua", countries=("UA",), urgencies=("immediate",)),
        RoutingRule(mission="eu-del-ke", countries=("UA",)),
    ]
    r = router(rules)
    grant = facts(kind="assistance_request", category=("emergency_grant",))
    assert r.route(grant) == "eu-hrd-fund"
    assert r.route(facts(urgency="immediate")) == "nl-emb-ua"
    assert r.route(facts()) == "eu-del-ke"


def test_unknown_country_goes_to_fallback() -> None:
    assert router([]).route(facts(country="BR")) == "eeas-hq"
    assert router([]).route(facts(country=None)) == "eeas-hq"


def test_rule_naming_unknown_mission_is_skipped() -> None:
    assert router([RoutingRule(mission="gone", countries=("UA",))]).route(facts()) == "eu-del-ua"


def test_no_fallback_refuses_loudly() -> None:
    with pytest.raises(RoutingError, match="fallback"):
        router([], fallback=None).route(facts(country="BR"))


def test_a_subdivision_rule_takes_the_exception_and_the_rest_of_the_country_stays() -> None:
    # Given Crimea (UA-43) served by another mission than the rest of Ukraine
    r = router([RoutingRule(mission="nl-emb-ua", countries=("UA-43",))])
    # Then a case from Crimea goes there, one from Kyiv city (UA-30) or just "Ukraine" does not
    assert r.route(facts(subdivision="UA-43")) == "nl-emb-ua"
    assert r.route(facts(subdivision="UA-30")) == "eu-del-ua"
    assert r.route(facts()) == "eu-del-ua"


def test_a_country_rule_covers_its_subdivisions() -> None:
    r = router([RoutingRule(mission="eu-del-ke", countries=("UA",))])
    assert r.route(facts(subdivision="UA-43")) == "eu-del-ke"


def test_not_listed_goes_to_the_fallback_unless_a_rule_names_zz() -> None:
    assert (
        router([RoutingRule(mission="eu-del-ke", countries=("UA",))]).route(facts(country=None))
        == "eeas-hq"
    )
    assert (
        router([RoutingRule(mission="eu-del-ke", countries=("ZZ",))]).route(facts(country=None))
        == "eu-del-ke"
    )
