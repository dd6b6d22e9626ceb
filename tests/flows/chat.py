"""A test conversation: sends answers to an Engine, keeps the state between
messages the way the caller does (as JSON), and remembers the last outcome."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from flows import Answer, Engine, Outcome, StepSpec
from flows.spec_types import Expect

TODAY = date(2026, 6, 15)


class Chat:
    def __init__(self, engine: Engine, lang: str = "en") -> None:
        self.engine = engine
        self.state: dict[str, Any] = engine.new_state(lang)
        self.last: Outcome | None = None
        self.effects: list[object] = []

    def send(
        self, text: str | None = None, *, choice: str | None = None, attachment: str | None = None
    ) -> Outcome:
        outcome = self.engine.handle(
            self.state, Answer(text=text, choice=choice, attachment=attachment)
        )
        # The caller persists the state as JSON: it must round-trip exactly.
        self.state = json.loads(json.dumps(outcome.state))
        assert self.state == outcome.state
        self.last = outcome
        self.effects.extend(outcome.effects)
        return outcome

    @property
    def step(self) -> str | None:
        return self.state["step"]

    @property
    def text(self) -> str:
        assert self.last is not None
        return "\n".join(prompt.text for prompt in self.last.prompts)

    @property
    def choices(self) -> list[str]:
        assert self.last is not None
        return [choice.value for prompt in self.last.prompts for choice in prompt.choices]

    def start(self, flow: str) -> None:
        self.send(choice=flow)
        assert self.state["flow"] == flow


def menu_state(engine: Engine, lang: str) -> dict[str, Any]:
    """The state back at the main menu once the welcome has been shown."""
    return {**engine.new_state(lang), "welcomed": True}


def valid_answer(step: StepSpec) -> dict[str, str]:
    """A plausible answer for any step (keyword arguments for Chat.send)."""
    if step.expect is Expect.CHOICE:
        return {"choice": step.options[0]}
    if step.expect is Expect.MULTI:
        return {"text": "1, 2"}
    if step.expect is Expect.YESNO:
        return {"choice": "yes"}
    if step.expect is Expect.COUNTRY:
        return {"text": "Ukraine"}
    if step.expect is Expect.DATE:
        return {"text": "2026-05-01"}
    if step.expect is Expect.FILES:
        return {"choice": "skip"}
    if step.expect is Expect.CONFIRM:
        return {"choice": "confirm"}
    return {"text": f"answer to {step.id}"}
