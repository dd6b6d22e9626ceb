"""Handling an answer at the current step, one handler per expectation type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from flows.answers import (
    Rejection,
    check_attachment_id,
    check_text,
    match_choice,
    match_many,
    parse_date,
    raw_text,
)
from flows.countries import CountryMatcher
from flows.normalize import fold
from flows.outcomes import Outcomes
from flows.place_answer import NOT_LISTED, PLACE_SUFFIX
from flows.prompts import PromptBuilder
from flows.spec_types import Expect, FlowSpec, StepSpec
from flows.state import Conversation
from flows.values import Answer, Choice, Outcome, Prompt

__all__ = ["MIN_SECRET_LENGTH", "StepHandler", "StepHandlers"]

StepHandler = Callable[[Conversation, FlowSpec, StepSpec, Answer], Outcome]
# Accepted at a files step whichever of the two is shown.
_FILES_END = (Choice("done", "done"), Choice("skip", "skip"))
_MAX_PLACE = 200  # characters of a place kept as typed ("not listed")
# A secret word (check-in, duress) is compared folded (case, accents, spaces).
MIN_SECRET_LENGTH = 4


class StepHandlers:
    """The answer handlers, by the expectation type of the current step."""

    def __init__(
        self,
        specs: Mapping[str, FlowSpec],
        outcomes: Outcomes,
        prompts: PromptBuilder,
        countries: CountryMatcher,
        today: Callable[[], date],
    ) -> None:
        self._specs = specs
        self._out = outcomes
        self._prompts = prompts
        self._countries = countries
        self._today = today
        self.by_expect: dict[Expect, StepHandler] = {
            Expect.CHOICE: self.on_choice,
            Expect.YESNO: self.on_choice,
            Expect.MULTI: self.on_multi,
            Expect.TEXT: self.on_text,
            Expect.COUNTRY: self.on_country,
            Expect.DATE: self.on_date,
            Expect.FILES: self.on_files,
            Expect.CONFIRM: self.on_confirm,
        }

    def _keep(self, conv: Conversation, step: StepSpec, answer: Answer) -> str | list[str] | None:
        """The earlier answer, when the defender chose to keep it."""
        if step.id in conv.answers and answer.choice == "keep":
            return conv.answers[step.id]
        return None

    def on_choice(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        value = match_choice(raw_text(answer), self._prompts.step_choices(conv, step))
        if value is None:
            return self._out.refuse(conv, Rejection("invalid.choice"))
        return self._out.accept(conv, spec, step, value)

    def on_multi(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        values = match_many(raw_text(answer), self._prompts.step_choices(conv, step))
        if values is None:
            return self._out.refuse(conv, Rejection("invalid.choice"))
        selected = set(self._prompts.selection(conv, step))
        picked = [value for value in values if value != "done"]
        if len(picked) == 1 and "done" not in values:  # one at a time: toggle, wait for "done"
            selected ^= {picked[0]}
            ordered = [option for option in step.options if option in selected]
            conv.pending = {"kind": "multi", "selected": ordered}
            return self._out.stay(conv)
        selected.update(picked)  # several at once, or "done": finish
        if not selected:
            return self._out.refuse(conv, Rejection("invalid.multi_empty"))
        return self._out.accept(conv, spec, step, [o for o in step.options if o in selected])

    def on_text(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        kept = self._keep(conv, step, answer)
        if kept is not None:
            return self._out.accept(conv, spec, step, kept)
        if answer.choice is not None:  # a button (maybe an old one) where text is expected
            return self._out.refuse(conv, Rejection("invalid.text_expected"))
        checked = check_text(answer.text or "", step.max_length or 0)
        if isinstance(checked, Rejection):
            return self._out.refuse(conv, checked)
        if step.secret:
            refused = self._check_secret(conv, step, checked)
            if refused is not None:
                return self._out.refuse(conv, refused)
        return self._out.accept(conv, spec, step, checked)

    @staticmethod
    def _check_secret(conv: Conversation, step: StepSpec, word: str) -> Rejection | None:
        """A secret word: long enough not to be typed by chance, unlike its sibling."""
        if len(fold(word)) < MIN_SECRET_LENGTH:
            return Rejection("invalid.secret_short", {"min": MIN_SECRET_LENGTH})
        other = conv.answers.get(step.differs_from) if step.differs_from else None
        if isinstance(other, str) and fold(other) == fold(word):
            return Rejection("invalid.secret_same")
        return None

    def on_country(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        """A place as people name it: an exact country name, code or flag is
        taken; anything else is confirmed ("Nairobi, Kenya?") or chosen among
        candidates, and the defender can always say it is not listed."""
        raw = raw_text(answer)
        picked = match_choice(raw, self._prompts.step_choices(conv, step))
        if picked == "keep":
            return self._out.accept(conv, spec, step, conv.answers[step.id])
        if picked == "retry":
            conv.pending = None
            return self._out.stay(conv)
        if picked == "unlisted":
            return self._accept_place(conv, spec, step, NOT_LISTED, conv.pending_text("place"))
        if picked is not None:
            return self._accept_place(conv, spec, step, picked)
        found = self._countries.find(raw, conv.lang)
        if found.sure:
            return self._accept_place(conv, spec, step, found.places[0].code)
        if answer.choice is not None or fold(raw).isdecimal():  # an old button, a wrong number
            return self._out.refuse(conv, Rejection("invalid.choice"))
        typed = check_text(raw, _MAX_PLACE)
        if isinstance(typed, Rejection):
            return self._out.refuse(conv, typed)
        conv.pending = {
            "kind": "country",
            "codes": [place.code for place in found.places],
            "labels": [place.name for place in found.places],
            "place": typed,
        }
        if not found.places:
            return self._out.refuse(conv, Rejection("invalid.country_none"))
        return self._out.stay(conv)

    def _accept_place(
        self,
        conv: Conversation,
        spec: FlowSpec,
        step: StepSpec,
        code: str,
        typed: str | None = None,
    ) -> Outcome:
        key = step.id + PLACE_SUFFIX
        if code == NOT_LISTED and typed:
            conv.answers[key] = typed  # the defender's words: sealed with the case
        else:
            conv.answers.pop(key, None)
        return self._out.accept(conv, spec, step, code)

    def on_date(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        raw = raw_text(answer)
        if match_choice(raw, self._prompts.step_choices(conv, step)) == "keep":
            return self._out.accept(conv, spec, step, conv.answers[step.id])
        parsed = parse_date(raw, self._today(), step.past_only)
        if isinstance(parsed, Rejection):
            return self._out.refuse(conv, parsed)
        return self._out.accept(conv, spec, step, parsed.isoformat())

    def on_files(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        raw = raw_text(answer)
        shown = self._prompts.step_choices(conv, step)
        if match_choice(raw, (*shown, *_FILES_END)) is None:
            # Name the button as it is shown: "Skip" before any file, "Done" after.
            button = shown[0].label if shown else ""
            return self._out.refuse(conv, Rejection("invalid.files_text", {"button": button}))
        files = conv.answers.get(step.id)
        return self._out.accept(conv, spec, step, list(files) if isinstance(files, list) else [])

    def on_attachment(self, conv: Conversation, answer: Answer) -> Outcome:
        attachment = answer.attachment or ""
        step = self._specs[conv.flow].step(conv.step) if conv.flow and conv.step else None
        if step is None or step.expect is not Expect.FILES or not check_attachment_id(attachment):
            return self._out.refuse(conv, Rejection("engine.file_not_expected"), answer)
        stored = conv.answers.get(step.id)
        files = list(stored) if isinstance(stored, list) else []
        if attachment not in files:  # the same file twice is kept once
            if len(files) >= step.max_files:
                too_many = Rejection("engine.too_many_files", {"max": step.max_files})
                return self._out.refuse(conv, too_many, answer)
            files.append(attachment)
        conv.answers[step.id] = files
        received = self._prompts.text(conv.lang, "engine.file_received", count=len(files))
        notes = [self._prompts.text(conv.lang, "engine.caption_ignored")] if answer.text else []
        done = self._prompts.step_choices(conv, step)
        return Outcome(conv.dump(), (*notes, Prompt(received.text, done)))

    def on_confirm(
        self, conv: Conversation, spec: FlowSpec, step: StepSpec, answer: Answer
    ) -> Outcome:
        value = match_choice(raw_text(answer), self._prompts.step_choices(conv, step))
        if value == "confirm":
            return self._out.submit(conv, spec, step)
        if value == "edit":  # list the answers; the defender picks the one to change
            conv.pending = {"kind": "edit"}
            return self._out.stay(conv)
        if value == "cancel":
            return self._out.end(conv, "engine.cancelled")
        return self._out.refuse(conv, Rejection("invalid.choice"))
