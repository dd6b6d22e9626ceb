"""Building outcomes: accepting an answer and moving on, refusing one, ending a draft.

Every change of step goes through the flow's shared machine (see
:mod:`flows.machines`); this module is the only one that moves a
conversation between steps.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.answers import Rejection
from flows.machines import FlowMachine
from flows.place_answer import PLACE_SUFFIX, split_place
from flows.prompts import PromptBuilder
from flows.spec_types import ABORT, Expect, FlowSpec, StepSpec
from flows.state import Conversation
from flows.values import Answer, DiscardDraft, Outcome, Prompt, RoutingFacts, Submit

__all__ = ["Outcomes"]


def _one(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _many(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (value,) if isinstance(value, str) else ()


class Outcomes:
    """Turns a changed conversation into an :class:`Outcome`."""

    def __init__(
        self,
        specs: Mapping[str, FlowSpec],
        prompts: PromptBuilder,
        machines: Mapping[str, FlowMachine],
    ) -> None:
        self._specs = specs
        self._prompts = prompts
        self._machines = machines

    def attachments(self, conv: Conversation) -> tuple[str, ...]:
        if conv.flow is None:
            return ()
        found: list[str] = []
        for step in self._specs[conv.flow].steps:
            files = conv.answers.get(step.id)
            if step.expect is Expect.FILES and isinstance(files, list):
                found.extend(files)
        return tuple(found)

    def welcome(self, conv: Conversation) -> tuple[Prompt, ...]:
        return (self._prompts.text(conv.lang, "engine.welcome"), self._prompts.menu(conv.lang))

    def stay(self, conv: Conversation, *before: Prompt) -> Outcome:
        return Outcome(conv.dump(), (*before, self._prompts.current(conv)))

    def refuse(self, conv: Conversation, why: Rejection, answer: Answer | None = None) -> Outcome:
        """Say why, ask again; a refused attachment is handed back for destruction."""
        reason = self._prompts.text(conv.lang, why.key, **why.params)
        effects = (DiscardDraft((answer.attachment,)),) if answer and answer.attachment else ()
        return Outcome(conv.dump(), (reason, self._prompts.current(conv)), effects)

    def end(self, conv: Conversation, key: str) -> Outcome:
        """End the draft without storing it (cancel, abort)."""
        effects = (DiscardDraft(self.attachments(conv)),)
        conv.reset()
        prompts = (self._prompts.text(conv.lang, key), self._prompts.menu(conv.lang))
        return Outcome(conv.dump(), prompts, effects)

    def accept(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, value: str | list[str]
    ) -> Outcome:
        conv.answers[step.id] = value
        conv.history.append(step.id)
        conv.pending = None
        machine = self._machines[spec.name]
        target = machine.advance(step.id, conv.answers)
        # Changing one answer from the summary: the questions answered before are
        # not asked again; only those the changed answer opens (and the summary).
        while target in conv.editing and target in conv.answers and spec.has_step(target):
            if spec.step(target).expect is Expect.CONFIRM:
                break
            conv.history.append(target)
            target = machine.advance(target, conv.answers)
        if target == ABORT:
            return self.end(conv, "engine.aborted")
        conv.step = target
        if spec.has_step(target) and spec.step(target).expect is Expect.CONFIRM:
            conv.editing = []
        return self.stay(conv)

    def submit(self, conv: Conversation, spec: FlowSpec, step: StepSpec) -> Outcome:
        """Confirmed: hand over the answers on the path taken, and their routing facts."""
        self._machines[spec.name].advance(step.id, conv.answers)  # a confirm step: @submit
        answers: dict[str, object] = {}
        for step_id in conv.history:
            for key in (step_id, step_id + PLACE_SUFFIX):
                value = conv.answers.get(key)
                if value is not None:
                    answers[key] = list(value) if isinstance(value, list) else value
        routing = spec.routing
        country, subdivision = split_place(_one(answers.get(routing.country or "")))
        facts = RoutingFacts(
            kind=spec.kind,
            country=country,
            category=_many(answers.get(routing.category or "")),
            urgency=_one(answers.get(routing.urgency or "")),
            subdivision=subdivision,
        )
        # Files answered on a step that the path no longer takes are not submitted.
        kept = {item for value in answers.values() if isinstance(value, list) for item in value}
        orphans = tuple(item for item in self.attachments(conv) if item not in kept)
        submit = Submit(flow=spec.name, answers=answers, routing=facts, language=conv.lang)
        effects = (submit, DiscardDraft(orphans)) if orphans else (submit,)
        conv.reset()
        return Outcome(conv.dump(), (self._prompts.menu(conv.lang),), effects)

    def edit(self, conv: Conversation, step_id: str) -> Outcome:
        """Ask ``step_id`` again (picked from the list of answers); the answers
        after it are kept and not asked again unless the path changes."""
        if conv.flow is None or conv.step is None or step_id not in conv.history:
            return self.stay(conv)
        index = conv.history.index(step_id)
        conv.history, conv.editing = conv.history[:index], conv.history[index + 1 :]
        conv.step = self._machines[conv.flow].jump(conv.step, step_id)
        conv.pending = None
        return self.stay(conv)

    def back(self, conv: Conversation) -> Outcome:
        """One step back; every answer is kept and offered again."""
        if conv.flow is None or conv.step is None or not conv.history:
            return self.stay(conv)
        target = conv.history.pop()
        conv.step = self._machines[conv.flow].jump(conv.step, target)
        conv.pending = None
        return self.stay(conv)
