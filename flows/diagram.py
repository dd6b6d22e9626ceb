"""Mermaid diagrams generated from flow specs (never drawn by hand)."""

from __future__ import annotations

from flows.spec_types import ABORT, SUBMIT, Condition, FlowSpec

__all__ = ["to_mermaid"]

_TERMINALS = {SUBMIT: 't_submit(["@submit"])', ABORT: 't_abort(["@abort"])'}


def _node(target: str) -> str:
    return {SUBMIT: "t_submit", ABORT: "t_abort"}.get(target, f"s_{target}")


def _quote(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _describe(condition: Condition) -> str:
    values = " or ".join(condition.values)
    return f"{condition.step} = {values}"


def to_mermaid(spec: FlowSpec) -> str:
    """A ``flowchart TD`` of the steps (id and expectation) and every edge,
    conditional ones labelled with their condition."""
    lines = ["flowchart TD", f"    %% {spec.name} (kind: {spec.kind})"]
    for step in spec.steps:
        shape = "{{" + _quote(f"{step.id}: {step.expect}") + "}}"
        if not any(edge.conditions for edge in step.next):
            shape = "[" + _quote(f"{step.id}: {step.expect}") + "]"
        lines.append(f"    {_node(step.id)}{shape}")
    used = {edge.target for step in spec.steps for edge in step.next}
    lines.extend(f"    {_TERMINALS[target]}" for target in (SUBMIT, ABORT) if target in used)
    for step in spec.steps:
        for edge in step.next:
            arrow = "-->"
            if edge.conditions:
                label = " and ".join(_describe(condition) for condition in edge.conditions)
                arrow = f"-- {_quote(label)} -->"
            lines.append(f"    {_node(step.id)} {arrow} {_node(edge.target)}")
    lines.append(f"    start((start)) --> {_node(spec.start)}")
    return "\n".join(lines) + "\n"
