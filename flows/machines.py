"""One shared ``transitions.Machine`` per flow.

Building a Machine per message costs about 14 times more than reusing one
(DESIGN §10: 630 against 8,800 steps/s), and a model left attached holds
about 18 KB. So each flow gets one Machine, built with the Engine, and a
conversation is attached only for the duration of one step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from transitions import Machine

from flows.spec_types import ABORT, SUBMIT, Edge, FlowSpec

__all__ = ["FlowMachine"]

ADVANCE = "advance"


class _Model:
    """The transient model: the current step and the answers its conditions read."""

    state: str
    trigger: Callable[..., bool]  # bound by Machine.add_model

    def __init__(self, answers: Mapping[str, object]) -> None:
        self.answers = answers


def _condition(edge: Edge) -> Callable[[Any], bool]:
    def taken(event: Any) -> bool:  # transitions.EventData (send_event=True)
        return edge.taken(event.model.answers)

    return taken


class _LeanMachine(Machine):
    """A Machine that binds no `is_<state>` helpers or per-state callbacks to models.

    Conversations use neither; binding them cost 15 attribute writes per step
    (one per state) each time a conversation is attached, about a tenth of a
    message's time in the core.
    """

    def _add_model_to_state(self, state: Any, model: Any) -> None:
        return None


class FlowMachine:
    """The states (step ids, @submit, @abort) and the ``advance`` trigger of a flow;
    its transitions are the spec's edges in order, so the first match wins."""

    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        states = [step.id for step in spec.steps] + [SUBMIT, ABORT]
        self.machine = _LeanMachine(
            model=None,
            states=states,
            initial=spec.start,
            auto_transitions=False,
            send_event=True,
        )
        for step in spec.steps:
            for edge in step.next:
                conditions: list[str | Callable[..., bool | None]] | None = None
                if edge.conditions:
                    conditions = [_condition(edge)]
                self.machine.add_transition(ADVANCE, step.id, edge.target, conditions=conditions)

    def advance(self, step: str, answers: Mapping[str, object]) -> str:
        """The state after ``step`` given ``answers`` (a step id, @submit or @abort)."""
        model = _Model(answers)
        self.machine.add_model(model, initial=step)
        try:
            model.trigger(ADVANCE)
            return model.state
        finally:
            self.machine.remove_model(model)

    def jump(self, step: str, target: str) -> str:
        """Move from ``step`` straight to ``target`` (for /back); returns it."""
        model = _Model({})
        self.machine.add_model(model, initial=step)
        try:
            self.machine.set_state(target, model=model)
            return model.state
        finally:
            self.machine.remove_model(model)
