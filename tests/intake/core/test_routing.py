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
