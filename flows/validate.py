"""Checks a parsed flow as a whole: its graph, its conditions, its catalog keys.

Flows only move forward (every ``goto`` points to a later step or a terminal),
so the graph has no cycles, every path ends, and the history stack of a
conversation is never longer than the flow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flows.catalog import Catalog
from flows.errors import SpecError
from flows.spec_types import ABORT, SUBMIT, YESNO_VALUES, Expect, FlowSpec, StepSpec

__all__ = ["check_spec"]

_CONDITIONABLE = (Expect.CHOICE, Expect.MULTI, Expect.YESNO, Expect.COUNTRY)
# A country ("UA"), a subdivision ("UA-43") or "ZZ" (not listed): see flows.countries.
_COUNTRY_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def _reachable(spec: FlowSpec, without: str | None = None) -> set[str]:
    """Steps and terminals reachable from the start, never passing ``without``."""
    if spec.start == without:
        return set()
    seen = {spec.start}
    todo = [spec.start]
    while todo:
        current = todo.pop()
        if current in (SUBMIT, ABORT):
            continue
        for edge in spec.step(current).next:
            if edge.target not in seen and edge.target != without:
                seen.add(edge.target)
                todo.append(edge.target)
    return seen


def _check_edges(spec: FlowSpec, index: int, step: StepSpec) -> None:
    position = {other.id: number for number, other in enumerate(spec.steps)}
    if step.expect is Expect.CONFIRM:
        if [edge.target for edge in step.next] != [SUBMIT] or step.next[0].conditions:
            raise SpecError(spec.path, step.id, "a confirm step goes to @submit, unconditionally")
    for edge in step.next:
        if edge.target == SUBMIT and step.expect is not Expect.CONFIRM:
            raise SpecError(spec.path, step.id, "only a confirm step may lead to @submit")
        if edge.target in (SUBMIT, ABORT):
            continue
        if edge.target not in position:
            raise SpecError(spec.path, step.id, f"goto {edge.target!r} does not name a step")
        if position[edge.target] <= index:
            reason = f"goto {edge.target!r} points backwards; flows only move forward"
            raise SpecError(spec.path, step.id, reason)


def _check_conditions(spec: FlowSpec, index: int, step: StepSpec) -> None:
    position = {other.id: number for number, other in enumerate(spec.steps)}
    for edge in step.next:
        for condition in edge.conditions:
            on = condition.step
            if on not in position:
                raise SpecError(spec.path, step.id, f"condition on unknown step {on!r}")
            if position[on] > index:
                raise SpecError(spec.path, step.id, f"condition on a later step {on!r}")
            target = spec.step(on)
            if target.expect not in _CONDITIONABLE:
                reason = f"condition on {on!r}, a {target.expect} step: cannot be compared"
                raise SpecError(spec.path, step.id, reason)
            if target.expect is Expect.COUNTRY:
                allowed: Iterable[str] = [v for v in condition.values if _COUNTRY_RE.match(v)]
            elif target.expect is Expect.YESNO:
                allowed = YESNO_VALUES
            else:
                allowed = target.options
            wrong = sorted(set(condition.values) - set(allowed))
            if wrong:
                reason = f"condition on {on!r} names values it cannot have: {wrong}"
                raise SpecError(spec.path, step.id, reason)
            if on != step.id and step.id in _reachable(spec, without=on):
                reason = f"condition on {on!r}, which can be skipped before this step"
                raise SpecError(spec.path, step.id, reason)


def _check_routing(spec: FlowSpec) -> None:
    wanted = {
        "country": (Expect.COUNTRY,),
        "urgency": (Expect.CHOICE,),
        "category": (Expect.CHOICE, Expect.MULTI),
    }
    for field, kinds in wanted.items():
        step_id = getattr(spec.routing, field)
        if step_id is None:
            continue
        if not spec.has_step(step_id):
            raise SpecError(spec.path, step_id, f"routing {field} names no step")
        if spec.step(step_id).expect not in kinds:
            expected = " or ".join(kinds)
            raise SpecError(spec.path, step_id, f"routing {field} needs a {expected} step")


def _check_catalog(spec: FlowSpec, catalog: Catalog) -> None:
    if not catalog.has(spec.title):
        raise SpecError(spec.path, None, f"missing catalog key {spec.title!r}")
    for step in spec.steps:
        keys = [step.prompt, *([step.label] if step.label else [])]
        keys.extend(key for _value, key in step.choices())
        for key in keys:
            if not catalog.has(key):
                raise SpecError(spec.path, step.id, f"missing catalog key {key!r}")


def _after(step: StepSpec, value: str) -> str:
    """Where ``step`` goes when it is answered ``value`` (and nothing else is known)."""
    answers = {step.id: value}
    return next(edge.target for edge in step.next if edge.taken(answers))


def _check_consent(spec: FlowSpec) -> None:
    """Nothing a defender writes is kept without their consent: a draft is
    stored (encrypted) after every answer, so the first question must be a
    yes/no consent whose "no" ends the flow before anything else is asked."""
    start = spec.step(spec.start)
    reason = (
        "a flow must start with its consent step: a yesno step whose \"no\" goes to "
        "@abort (nothing is stored without consent)"
    )
    if start.expect is not Expect.YESNO:
        raise SpecError(spec.path, start.id, reason)
    if _after(start, "no") != ABORT or _after(start, "yes") == ABORT:
        raise SpecError(spec.path, start.id, reason)


def _check_secrets(spec: FlowSpec) -> None:
    """``differs_from`` names an earlier secret step (the word it must not equal)."""
    position = {step.id: number for number, step in enumerate(spec.steps)}
    for index, step in enumerate(spec.steps):
        other = step.differs_from
        if other is None:
            continue
        if other not in position or position[other] >= index or not spec.step(other).secret:
            reason = f"differs_from {other!r} must name an earlier secret step"
            raise SpecError(spec.path, step.id, reason)


def check_spec(spec: FlowSpec, catalog: Catalog | None = None) -> None:
    """Check ``spec`` as a whole (and its keys against ``catalog`` if given).

    Raises:
        SpecError: a dangling or backward goto, a misplaced @submit, a bad
            condition, an unreachable step, a flow that cannot be submitted,
            a flow that does not start with a consent step (yes/no, "no" aborts),
            a wrong routing field, or a missing catalog key.
    """
    if not spec.has_step(spec.start):
        raise SpecError(spec.path, spec.start, "start names no step")
    for index, step in enumerate(spec.steps):
        _check_edges(spec, index, step)
        _check_conditions(spec, index, step)
    reachable = _reachable(spec)
    for step in spec.steps:
        if step.id not in reachable:
            raise SpecError(spec.path, step.id, "unreachable step")
    if SUBMIT not in reachable:
        raise SpecError(spec.path, None, "no path reaches @submit through a confirm step")
    _check_consent(spec)
    _check_secrets(spec)
    _check_routing(spec)
    if catalog is not None:
        _check_catalog(spec, catalog)
