"""Flow specs load, and every kind of mistake fails at load naming file and step."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import Catalog, Expect, FlowSpec, SpecError, load_specs, to_mermaid
from flows.spec_types import ABORT, SUBMIT

MINI: dict[str, Any] = {
    "name": "mini",
    "kind": "mini",
    "title": "flow.threat_report.title",
    "routing": {"urgency": "urgency"},
    "steps": [
        {
            "id": "consent",
            "expect": "yesno",
            "prompt": "threat.consent_store.prompt",
            "next": [{"if": {"consent": "no"}, "goto": "@abort"}],
        },
        {
            "id": "urgency",
            "expect": "choice",
            "prompt": "common.urgency.prompt",
            "options": ["immediate", "days", "not_urgent"],
        },
        {"id": "details", "expect": "text", "prompt": "threat.details.prompt", "max_length": 100},
        {"id": "confirm", "expect": "confirm", "prompt": "common.confirm.prompt"},
    ],
}


def write(folder: Path, data: dict[str, Any], name: str = "mini") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_specs_load_with_the_catalog(specs: dict[str, FlowSpec]) -> None:
    assert set(specs) == {"threat_report", "assistance_request", "safety_checkin"}
    threat = specs["threat_report"]
    assert [s.id for s in threat.steps] == [
        "consent_store",
        "country",
        "at_risk",
        "threat_types",
        "when",
        "when_date",
        "details",
        "evidence",
        "urgency",
        "contact",
        "usage",
        "share_un",
        "confirm",
    ]
    assert threat.step("threat_types").options == (
        "intimidation",
        "harassment",
        "physical_violence",
        "arbitrary_detention",
        "surveillance",
        "judicial_harassment",
        "smear_campaign",
        "threats_to_family",
        "other",
    )
    assert threat.step("details").max_length == 4000
    assert threat.step("contact").max_length == 500
    assert threat.step("evidence").expect is Expect.FILES
    assert threat.step("consent_store").next[0].target == ABORT
    assist = specs["assistance_request"]
    assert assist.step("help_kind").options == (
        "emergency_grant",
        "legal_aid",
        "trial_monitoring",
        "detention_visit",
        "temporary_relocation",
        "medical_psychosocial",
        "digital_security",
        "advocacy_statement",
    )
    for spec in (threat, assist):
        assert spec.step("urgency").options == ("immediate", "days", "not_urgent")
        assert spec.step("usage").options == (
            "confidential",
            "private_authorities",
            "public_statement",
        )
        assert spec.step("share_un").expect is Expect.YESNO
        assert spec.steps[-1].expect is Expect.CONFIRM
        assert spec.steps[-1].next[0].target == SUBMIT
    assert assist.routing.category == "help_kind"
    checkin = specs["safety_checkin"]
    assert checkin.kind == "missed_checkin" and checkin.routing.country == "country"
    assert [s.id for s in checkin.steps if s.secret] == ["checkin_word", "duress_word"]
    assert all(s.label is None for s in checkin.steps if s.secret)
    assert threat.routing.category == "threat_types"


def test_the_minimal_spec_is_valid(tmp_path: Path, catalog: Catalog) -> None:
    write(tmp_path, MINI)
    spec = load_specs(tmp_path, catalog)["mini"]
    assert spec.start == "consent"
    assert [edge.target for edge in spec.step("consent").next] == [ABORT, "urgency"]


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _add_step(index: int, step: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["steps"].insert(index, step)


INVALID: list[tuple[str, Callable[[dict[str, Any]], None], str | None, str]] = [
    (
        "unknown expectation",
        _set(["steps", 1, "expect"], "slider"),
        "urgency",
        "unknown expectation type 'slider'",
    ),
    (
        "dangling goto",
        _set(["steps", 1, "next"], [{"goto": "nowhere"}]),
        "urgency",
        "goto 'nowhere' does not name a step",
    ),
    (
        "unreachable step",
        _set(["steps", 0, "next"], [{"goto": "details"}]),
        "urgency",
        "unreachable step",
    ),
    ("duplicate id", _set(["steps", 2, "id"], "urgency"), "urgency", "duplicate step id"),
    (
        "condition on unknown step",
        _set(["steps", 1, "next"], [{"if": {"ghost": "x"}, "goto": "confirm"}]),
        "urgency",
        "condition on unknown step 'ghost'",
    ),
    (
        "condition on later step",
        _set(["steps", 0, "next"], [{"if": {"urgency": "days"}, "goto": "details"}]),
        "consent",
        "condition on a later step 'urgency'",
    ),
    (
        "backward goto",
        _set(["steps", 2, "next"], [{"goto": "consent"}]),
        "details",
        "points backwards",
    ),
    (
        "submit before confirm",
        _set(["steps", 2, "next"], "@submit"),
        "details",
        "only a confirm step may lead to @submit",
    ),
    (
        "condition value not an option",
        _set(["steps", 1, "next"], [{"if": {"urgency": "soon"}, "goto": "confirm"}]),
        "urgency",
        "cannot have: ['soon']",
    ),
    (
        "unquoted no",
        _set(["steps", 0, "next"], [{"if": {"consent": False}, "goto": "@abort"}]),
        "consent",
        "quote yes/no",
    ),
    (
        "condition on text",
        _set(["steps", 2, "next"], [{"if": {"details": "x"}, "goto": "confirm"}]),
        "details",
        "cannot be compared",
    ),
    (
        "text without max_length",
        lambda d: d["steps"][2].pop("max_length"),
        "details",
        "needs max_length",
    ),
    (
        "reserved option",
        _set(["steps", 1, "options"], ["immediate", "done"]),
        "urgency",
        "reserved",
    ),
    (
        "options on a text step",
        _set(["steps", 2, "options"], ["a"]),
        "details",
        "only for choice and multi",
    ),
    ("unknown key", _set(["steps", 2, "promt"], "x"), "details", "unknown keys ['promt']"),
    (
        "routing to a text step",
        _set(["routing"], {"category": "details"}),
        "details",
        "routing category needs a choice or multi step",
    ),
    (
        "edge after unconditional",
        _set(["steps", 1, "next"], [{"goto": "details"}, {"goto": "confirm"}]),
        "urgency",
        "follows an unconditional goto",
    ),
    ("name differs from file", _set(["name"], "other"), None, "must match the file name"),
    (
        "confirm goes elsewhere",
        _set(["steps", 3, "next"], "@abort"),
        "confirm",
        "a confirm step goes to @submit",
    ),
    (
        "no consent step",
        lambda d: d["steps"].pop(0),
        "urgency",
        "must start with its consent step",
    ),
    (
        "consent that does not stop on no",
        _set(["steps", 0, "next"], [{"if": {"consent": "no"}, "goto": "details"}]),
        "consent",
        "must start with its consent step",
    ),
    (
        "consent that stops on yes",
        _set(["steps", 0, "next"], [{"if": {"consent": ["yes", "no"]}, "goto": "@abort"}]),
        "consent",
        "must start with its consent step",
    ),
]


@pytest.mark.parametrize(("case", "change", "step", "reason"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_spec_names_file_step_and_reason(
    tmp_path: Path,
    case: str,
    change: Callable[[dict[str, Any]], None],
    step: str | None,
    reason: str,
) -> None:
    data = copy.deepcopy(MINI)
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path)
    error = caught.value
    assert error.path == path
    assert error.step == step
    assert reason in error.reason
    assert str(path) in str(error)
    if step is not None:
        assert repr(step) in str(error)


def test_condition_on_a_step_that_can_be_skipped(tmp_path: Path) -> None:
    data = copy.deepcopy(MINI)
    data["steps"][0]["next"] = [
        {"if": {"consent": "no"}, "goto": "details"},
    ]
    data["steps"][2]["next"] = [{"if": {"urgency": "days"}, "goto": "confirm"}]
    write(tmp_path, data)
    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path)
    assert caught.value.step == "details"
    assert "can be skipped" in caught.value.reason


def test_missing_catalog_key_fails_only_with_a_catalog(tmp_path: Path, catalog: Catalog) -> None:
    data = copy.deepcopy(MINI)
    data["steps"][2]["prompt"] = "threat.nothing_here.prompt"
    write(tmp_path, data)
    load_specs(tmp_path)  # structure alone is fine
    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path, catalog)
    assert caught.value.step == "details"
    assert "missing catalog key 'threat.nothing_here.prompt'" in caught.value.reason


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("steps: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_specs(tmp_path)
    (tmp_path / "broken.yaml").write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_specs(tmp_path)


def test_yaml_tags_are_not_executed(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_specs(tmp_path)


@pytest.mark.parametrize("name", ["threat_report", "assistance_request", "safety_checkin"])
def test_mermaid_mentions_every_step_and_condition(specs: dict[str, FlowSpec], name: str) -> None:
    spec = specs[name]
    diagram = to_mermaid(spec)
    assert diagram.startswith("flowchart TD\n")
    for step in spec.steps:
        assert f"s_{step.id}" in diagram
        assert f'"{step.id}: {step.expect}"' in diagram
    assert "t_submit" in diagram
    for step in spec.steps:
        for edge in step.next:
            for condition in edge.conditions:
                assert f"{condition.step} = {' or '.join(condition.values)}" in diagram


def test_mermaid_of_follow_ups(specs: dict[str, FlowSpec]) -> None:
    diagram = to_mermaid(specs["assistance_request"])
    assert 's_help_kind -- "help_kind = trial_monitoring" --> s_trial_court' in diagram
    assert "s_hearing_date --> s_country" in diagram


@pytest.mark.parametrize("name", ["threat_report", "assistance_request", "safety_checkin"])
def test_every_flow_asks_consent_before_anything(specs: dict[str, FlowSpec], name: str) -> None:
    spec = specs[name]
    consent = spec.step(spec.start)
    assert consent.id == "consent_store" and consent.expect is Expect.YESNO
    assert consent.next[0].target == ABORT and consent.next[0].conditions[0].values == ("no",)
    assert consent.next[-1].target != ABORT


def test_conditions_on_a_country_may_name_a_subdivision(tmp_path: Path) -> None:
    data = copy.deepcopy(MINI)
    data["steps"].insert(
        1, {"id": "country", "expect": "country", "prompt": "common.country.prompt"}
    )
    data["steps"][2]["next"] = [
        {"if": {"country": ["UA-43", "ZZ"]}, "goto": "confirm"},
        {"if": {"country": "UA"}, "goto": "details"},
    ]
    write(tmp_path, data)
    spec = load_specs(tmp_path)["mini"]
    edges = spec.step("urgency").next
    assert edges[0].taken({"country": "UA-43"}) and not edges[0].taken({"country": "UA"})
    assert edges[1].taken({"country": "UA-14"})  # a subdivision of UA is in UA
    assert not edges[1].taken({"country": "UG"})
