"""The routing configuration is checked against the missions directory and the flows."""

from __future__ import annotations

import pytest

from flows import load_catalog, load_specs
from intake.config import RoutingRule, RoutingSettings, Settings
from intake.core.config_check import check_routing, is_language, is_place
from intake.errors import ConfigError

SPECS = load_specs(catalog=load_catalog())
MISSIONS = {"eu-del-ua", "eu-del-ke", "eeas-hq", "eu-hrd-fund"}


def settings(*rules: RoutingRule, fallback: str | None = "eeas-hq", lang: str = "en") -> Settings:
    return Settings.model_validate(
        {
            "home": "/tmp/x",
            "database_url": "sqlite://",
            "keyring": {"path": "/tmp/x/k"},
            "matrix": {"store": "/tmp/x/m"},
            "default_language": lang,
            "routing": RoutingSettings(rules=rules, fallback=fallback),
        }
    )


def test_a_sound_configuration_passes() -> None:
    check_routing(
        settings(
            RoutingRule(mission="eu-del-ke", countries=("UA-43", "ZZ", "XK")),
            RoutingRule(
                mission="eu-hrd-fund",
                kinds=("assistance_request",),
                urgencies=("immediate",),
            ),
            lang="uk",
        ),
        SPECS,
        MISSIONS,
    )


def test_a_fallback_naming_no_mission_is_refused_with_its_key() -> None:
    with pytest.raises(ConfigError, match=r"routing.fallback = 'eu-hq' is not a mission"):
        check_routing(settings(fallback="eu-hq"), SPECS, MISSIONS)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (RoutingRule(mission="eu-del-xx"), r"rule 2 .*mission = 'eu-del-xx'"),
        (RoutingRule(mission="eu-del-ke", countries=("QQ",)), r"rule 2 .*countries has 'QQ'"),
        (RoutingRule(mission="eu-del-ke", countries=("UA-99",)), r"countries has 'UA-99'"),
        (RoutingRule(mission="eu-del-ke", kinds=("threat-report",)), r"kinds has 'threat-report'"),
        (RoutingRule(mission="eu-del-ke", categories=("emergncy_grant",)), "'emergncy_grant'"),
        (RoutingRule(mission="eu-del-ke", urgencies=("now",)), r"urgencies has 'now'"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_position_and_value(
    rule: RoutingRule, expected: str
) -> None:
    good = RoutingRule(mission="eu-del-ua", countries=("UA",))
    with pytest.raises(ConfigError, match=expected):
        check_routing(settings(good, rule), SPECS, MISSIONS)


def test_a_made_up_language_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"default_language = 'xx'"):
        check_routing(settings(lang="xx"), SPECS, MISSIONS)


def test_codes() -> None:
    assert is_language("uk") and is_language("sw") and is_language("ka") and is_language("pt-BR")
    assert not is_language("xx") and not is_language("english")
    assert is_place("KE") and is_place("UA-43") and is_place("ZZ")
    assert not is_place("UK") and not is_place("KE-999")
