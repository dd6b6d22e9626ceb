"""Flow specs: the YAML files under ``flows/specs/`` as frozen dataclasses.

A spec file describes one flow::

    name: threat_report              # = the file name
    kind: threat_report              # routing kind
    title: flow.threat_report.title  # catalog key of the menu label
    order: 1                         # position in the menu (optional)
    routing: {country: country, urgency: urgency, category: threat_types}
    start: consent_store             # optional, default the first step
    steps:
      - id: consent_store
        expect: yesno                # choice multi text country date yesno files confirm
        prompt: threat.consent_store.prompt
        next:                        # optional; ordered, first match wins
          - {if: {consent_store: "no"}, goto: "@abort"}
          - goto: country            # unconditional; default: the following step

Per-step keys: ``label`` (summary label key, default the prompt key with
``.prompt`` replaced by ``.label``), ``options`` (choice/multi values),
``labels`` (prefix of the option label keys, default the prompt key without
``.prompt``: option ``x`` is labelled by ``<labels>.x``), ``max_length``
(text, required), ``past_only`` (date), ``max_files`` (files). A condition
maps earlier steps to a value or a list of values (any of them); for a multi
step it holds when the selection contains one of them. Targets ``@submit``
(only from a confirm step) and ``@abort`` end the flow.

Loading parses here and checks the graph and the catalog in
:mod:`flows.validate`; every problem is a :class:`~flows.errors.SpecError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from flows.catalog import Catalog
from flows.diagram import to_mermaid
from flows.errors import SpecError
from flows.spec_types import (
    ABORT,
    RESERVED_VALUES,
    SUBMIT,
    Condition,
    Edge,
    Expect,
    FlowSpec,
    Routing,
    StepSpec,
)
from flows.validate import check_spec

__all__ = [
    "ABORT",
    "RESERVED_VALUES",
    "SUBMIT",
    "Condition",
    "Edge",
    "Expect",
    "FlowSpec",
    "Routing",
    "StepSpec",
    "load_specs",
    "parse_spec",
    "to_mermaid",
]

_DEFAULT_DIR = Path(__file__).resolve().parent / "specs"
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_FLOW_KEYS = frozenset({"name", "kind", "title", "order", "routing", "start", "steps"})
_STEP_KEYS = frozenset(
    {
        "id",
        "expect",
        "prompt",
        "label",
        "options",
        "labels",
        "max_length",
        "past_only",
        "max_files",
        "secret",
        "differs_from",
        "next",
    }
)
_MAX_TEXT = 20_000
_MAX_FILES = 50


def _fail(path: Path, step: str | None, reason: str) -> SpecError:
    return SpecError(path, step, reason)


def _string(raw: object, path: Path, step: str | None, what: str, pattern: re.Pattern[str]) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str):
        raise _fail(path, step, f"{what} must be a string (quote yes/no/on/off), got {raw!r}")
    if not pattern.match(raw):
        raise _fail(path, step, f"{what} {raw!r} is not well formed")
    return raw


def _parse_values(raw: object, path: Path, step: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise _fail(path, step, "a condition needs at least one value")
    return tuple(
        _string(item, path, step, "condition value", re.compile(r"^\S+$")) for item in items
    )


def _parse_next(raw: object, path: Path, step: str) -> list[Edge]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"goto": raw}]
    if not isinstance(raw, list):
        raise _fail(path, step, "next must be a step id or a list of {if, goto}")
    edges: list[Edge] = []
    for item in raw:
        if not isinstance(item, dict) or "goto" not in item or set(item) - {"if", "goto"}:
            raise _fail(path, step, f"each next entry needs goto (and optional if), got {item!r}")
        target = _string(item["goto"], path, step, "goto", re.compile(r"^@?[a-z][a-z0-9_]*$"))
        conditions: list[Condition] = []
        if "if" in item:
            if not isinstance(item["if"], dict) or not item["if"]:
                raise _fail(path, step, "if must map earlier steps to values")
            for on, values in item["if"].items():
                on_id = _string(on, path, step, "condition step", _ID_RE)
                conditions.append(Condition(on_id, _parse_values(values, path, step)))
        if edges and not edges[-1].conditions:
            raise _fail(path, step, f"goto {target!r} follows an unconditional goto: never used")
        edges.append(Edge(target, tuple(conditions)))
    return edges


def _parse_int(raw: object, path: Path, step: str, what: str, top: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= top:
        raise _fail(path, step, f"{what} must be a whole number from 1 to {top}")
    return raw


def _parse_step(raw: object, index: int, path: Path) -> tuple[StepSpec, list[Edge]]:
    if not isinstance(raw, dict):
        raise _fail(path, None, f"step number {index + 1} is not a mapping")
    step_id = _string(raw.get("id"), path, f"#{index + 1}", "id", _ID_RE)
    unknown = sorted(str(key) for key in set(raw) - _STEP_KEYS)
    if unknown:
        raise _fail(path, step_id, f"unknown keys {unknown}")
    kinds = ", ".join(kind.value for kind in Expect)
    try:
        expect = Expect(str(raw.get("expect")))
    except ValueError:
        reason = f"unknown expectation type {raw.get('expect')!r} (one of {kinds})"
        raise _fail(path, step_id, reason) from None
    prompt = _string(raw.get("prompt"), path, step_id, "prompt", _KEY_RE)
    stem = prompt.removesuffix(".prompt") if prompt.endswith(".prompt") else None
    label: str | None = None
    secret = raw.get("secret", False)
    if not isinstance(secret, bool):
        raise _fail(path, step_id, "secret must be true or false")
    if secret and expect is not Expect.TEXT:
        raise _fail(path, step_id, "only a text step may be secret")
    differs_from: str | None = None
    if "differs_from" in raw:
        if not secret:
            raise _fail(path, step_id, "differs_from is only for secret steps")
        differs_from = _string(raw["differs_from"], path, step_id, "differs_from", _ID_RE)
    if secret:
        if "label" in raw:
            raise _fail(path, step_id, "a secret step has no label: it is never shown back")
    elif "label" in raw:
        label = _string(raw["label"], path, step_id, "label", _KEY_RE)
    elif expect is not Expect.CONFIRM:
        if stem is None:
            raise _fail(path, step_id, "give a label key (the prompt key does not end in .prompt)")
        label = f"{stem}.label"
    options: tuple[str, ...] = ()
    labels: str | None = None
    if expect in (Expect.CHOICE, Expect.MULTI):
        raw_options = raw.get("options")
        if not isinstance(raw_options, list) or not raw_options:
            raise _fail(path, step_id, f"a {expect} step needs a list of options")
        options = tuple(_string(o, path, step_id, "option", _ID_RE) for o in raw_options)
        if len(set(options)) != len(options):
            raise _fail(path, step_id, "options repeat a value")
        if RESERVED_VALUES & set(options):
            reserved = sorted(RESERVED_VALUES & set(options))
            raise _fail(path, step_id, f"option values {reserved} are reserved by the engine")
        labels = stem
        if "labels" in raw:
            labels = _string(raw["labels"], path, step_id, "labels", _KEY_RE)
        if labels is None:
            raise _fail(path, step_id, "give a labels prefix for the option label keys")
    elif "options" in raw or "labels" in raw:
        raise _fail(path, step_id, "options are only for choice and multi steps")
    only = {"max_length": Expect.TEXT, "past_only": Expect.DATE, "max_files": Expect.FILES}
    for key, kind in only.items():
        if key in raw and expect is not kind:
            raise _fail(path, step_id, f"{key} is only for {kind} steps")
    max_length = None
    if expect is Expect.TEXT:
        if "max_length" not in raw:
            raise _fail(path, step_id, "a text step needs max_length")
        max_length = _parse_int(raw["max_length"], path, step_id, "max_length", _MAX_TEXT)
    past_only = raw.get("past_only", False)
    if not isinstance(past_only, bool):
        raise _fail(path, step_id, "past_only must be true or false")
    max_files = _parse_int(raw.get("max_files", 10), path, step_id, "max_files", _MAX_FILES)
    step = StepSpec(
        id=step_id,
        expect=expect,
        prompt=prompt,
        label=label,
        next=(),
        options=options,
        labels=labels,
        max_length=max_length,
        past_only=past_only,
        max_files=max_files,
        secret=secret,
        differs_from=differs_from,
    )
    return step, _parse_next(raw.get("next"), path, step_id)


def _parse_routing(raw: object, path: Path) -> Routing:
    if raw is None:
        return Routing()
    if not isinstance(raw, dict) or set(raw) - {"country", "urgency", "category"}:
        raise _fail(path, None, "routing maps country/urgency/category to step ids")
    values = {
        key: _string(value, path, None, f"routing {key}", _ID_RE) for key, value in raw.items()
    }
    return Routing(**values)


def parse_spec(path: Path) -> FlowSpec:
    """Parse one spec file; structure only (see :func:`flows.validate.check_spec`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise _fail(path, None, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail(path, None, "a spec must be a mapping")
    unknown = sorted(str(key) for key in set(data) - _FLOW_KEYS)
    if unknown:
        raise _fail(path, None, f"unknown keys {unknown}")
    name = _string(data.get("name"), path, None, "name", _ID_RE)
    if name != path.stem:
        raise _fail(path, None, f"name {name!r} must match the file name")
    kind = _string(data.get("kind", name), path, None, "kind", _ID_RE)
    title = _string(data.get("title"), path, None, "title", _KEY_RE)
    order = data.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int):
        raise _fail(path, None, "order must be a whole number")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise _fail(path, None, "steps must be a non-empty list")
    parsed = [_parse_step(raw, index, path) for index, raw in enumerate(raw_steps)]
    seen: set[str] = set()
    for step, _edges in parsed:
        if step.id in seen:
            raise _fail(path, step.id, "duplicate step id")
        seen.add(step.id)
    steps: list[StepSpec] = []
    for index, (step, edges) in enumerate(parsed):
        if not edges or edges[-1].conditions:
            following = parsed[index + 1][0].id if index + 1 < len(parsed) else SUBMIT
            edges.append(Edge(following))
        steps.append(replace(step, next=tuple(edges)))
    start = data.get("start", steps[0].id)
    start = _string(start, path, None, "start", _ID_RE)
    return FlowSpec(
        name=name,
        kind=kind,
        title=title,
        order=order,
        routing=_parse_routing(data.get("routing"), path),
        start=start,
        steps=tuple(steps),
        path=path,
    )


def load_specs(
    directory: Path | None = None, catalog: Catalog | None = None
) -> dict[str, FlowSpec]:
    """Load and validate every ``*.yaml`` spec of ``directory`` (default: shipped).

    Raises:
        SpecError: naming the file, the step and the reason.
    """
    folder = directory if directory is not None else _DEFAULT_DIR
    specs: dict[str, FlowSpec] = {}
    paths: Sequence[Path] = sorted(folder.glob("*.yaml"))
    for path in paths:
        spec = parse_spec(path)
        check_spec(spec, catalog)
        specs[spec.name] = spec
    return specs
