"""The flow spec data model: frozen dataclasses built by :mod:`flows.spec`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = [
    "ABORT",
    "RESERVED_VALUES",
    "SUBMIT",
    "YESNO_VALUES",
    "Condition",
    "Edge",
    "Expect",
    "FlowSpec",
    "Routing",
    "StepSpec",
]

SUBMIT = "@submit"
ABORT = "@abort"
# Values the engine uses for its own choices; options may not reuse them.
RESERVED_VALUES = frozenset(
    {"done", "skip", "keep", "confirm", "edit", "cancel", "language", "retry", "unlisted"}
)


class Expect(StrEnum):
    """What a step expects from the defender."""

    CHOICE = "choice"
    MULTI = "multi"
    TEXT = "text"
    COUNTRY = "country"
    DATE = "date"
    YESNO = "yesno"
    FILES = "files"
    CONFIRM = "confirm"


YESNO_VALUES = ("yes", "no")


@dataclass(frozen=True)
class Condition:
    """Holds when the answer to ``step`` is (or, for multi, contains) one of ``values``."""

    step: str
    values: tuple[str, ...]

    def holds(self, answers: Mapping[str, object]) -> bool:
        answer = answers.get(self.step)
        if isinstance(answer, list):
            return any(value in answer for value in self.values)
        if isinstance(answer, str) and "-" in answer:  # "UA-43" is in "UA" too
            return answer in self.values or answer.split("-", 1)[0] in self.values
        return answer in self.values


@dataclass(frozen=True)
class Edge:
    """A possible next step; taken when all its conditions hold (none: always)."""

    target: str
    conditions: tuple[Condition, ...] = ()

    def taken(self, answers: Mapping[str, object]) -> bool:
        return all(condition.holds(answers) for condition in self.conditions)


@dataclass(frozen=True)
class StepSpec:
    """One question. ``next`` is resolved: its last edge is unconditional."""

    id: str
    expect: Expect
    prompt: str
    label: str | None
    next: tuple[Edge, ...]
    options: tuple[str, ...] = ()
    labels: str | None = None
    max_length: int | None = None
    past_only: bool = False
    max_files: int = 10
    # A secret text step (a check-in word): never shown back, not in the summary,
    # and, with ``differs_from``, refused when equal to that earlier secret step.
    secret: bool = False
    differs_from: str | None = None

    def choices(self) -> tuple[tuple[str, str], ...]:
        """``(value, catalog key)`` of the options, for choice, multi and yesno steps."""
        if self.expect is Expect.YESNO:
            return tuple((value, f"common.{value}") for value in YESNO_VALUES)
        return tuple((value, f"{self.labels}.{value}") for value in self.options)


@dataclass(frozen=True)
class Routing:
    """Which steps' answers feed routing (step ids, or None)."""

    country: str | None = None
    urgency: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class FlowSpec:
    """A validated flow."""

    name: str
    kind: str
    title: str
    order: int
    routing: Routing
    start: str
    steps: tuple[StepSpec, ...]
    path: Path
    _by_id: dict[str, StepSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {step.id: step for step in self.steps})

    def step(self, step_id: str) -> StepSpec:
        """The step called ``step_id`` (KeyError if none)."""
        return self._by_id[step_id]

    def has_step(self, step_id: str) -> bool:
        return step_id in self._by_id

    def catalog_keys(self) -> set[str]:
        """Every catalog key this flow needs."""
        keys = {self.title}
        for step in self.steps:
            keys.add(step.prompt)
            if step.label is not None:
                keys.add(step.label)
            keys.update(key for _value, key in step.choices())
        return keys
