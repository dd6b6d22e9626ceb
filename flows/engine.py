"""The conversation engine: one answer in, one :class:`~flows.values.Outcome` out.

Sans I/O: it never sends, stores, sleeps or reads a clock other than the
``today`` it was given. It never raises because of what a defender typed: a
refused answer gets a localized reason and the same question again, with the
state unchanged. Which handler runs is decided by tables (commands, then the
current step's expectation), not by chains of conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from flows.answers import Rejection, match_choice, raw_text, too_large
from flows.catalog import Catalog
from flows.commands import Command, ParsedCommand, parse_command
from flows.countries import CountryMatcher
from flows.errors import CatalogError, SpecError
from flows.machines import FlowMachine
from flows.normalize import fold
from flows.outcomes import Outcomes
from flows.prompts import ENGINE_KEYS, PromptBuilder
from flows.spec_types import RESERVED_VALUES, Expect, FlowSpec
from flows.state import Conversation
from flows.status import STATUS_KEYS
from flows.steps import StepHandlers
from flows.summary import SUMMARY_KEYS
from flows.values import Answer, DiscardDraft, Duress, Outcome, Prompt, ShowStatus, Wipe

__all__ = ["Engine"]


class Engine:
    """Runs the flows for any number of conversations; build it once."""

    def __init__(
        self,
        specs: Mapping[str, FlowSpec],
        catalog: Catalog,
        countries: CountryMatcher,
        *,
        duress_words: Sequence[str] = (),
        today: Callable[[], date] = date.today,
    ) -> None:
        """Raises:
        SpecError: a flow is named like one of the engine's own choices.
        CatalogError: the English catalog lacks a key the engine or a flow needs.
        ValueError: a duress word is shorter than 3 letters or is also an
            ordinary answer (an option label, a command, a country name), so it
            could be typed by accident.
        """
        for spec in specs.values():
            if spec.name in RESERVED_VALUES:
                raise SpecError(spec.path, None, f"flow name {spec.name!r} is reserved")
        needed = [*ENGINE_KEYS, *SUMMARY_KEYS, *STATUS_KEYS]
        for spec in specs.values():
            needed.extend(spec.catalog_keys())
        missing = catalog.missing_keys(needed)
        if missing:
            raise CatalogError(None, missing[0], f"missing in English ({len(missing)} missing)")
        self._specs = {spec.name: spec for spec in specs.values()}
        self._catalog = catalog
        self._countries = countries
        self._prompts = PromptBuilder(self._specs, catalog, countries)
        # One machine per flow, shared by every conversation (DESIGN §10).
        self._machines = {name: FlowMachine(spec) for name, spec in self._specs.items()}
        self._duress = self._check_duress(duress_words)
        self._out = Outcomes(self._specs, self._prompts, self._machines)
        self._steps = StepHandlers(self._specs, self._out, self._prompts, countries, today)
        self._commands: dict[Command, Callable[[Conversation], Outcome]] = {
            Command.START: self._cmd_start,
            Command.HELP: self._cmd_help,
            Command.BACK: self._cmd_back,
            Command.CANCEL: self._cmd_cancel,
            Command.LANGUAGE: self._cmd_language,
            Command.DELETE: self._cmd_delete,
            Command.STATUS: self._cmd_status,
        }

    def _check_duress(self, words: Sequence[str]) -> frozenset[str]:
        ordinary = {command.value for command in Command}
        for lang in self._catalog.languages:
            probe = Conversation(lang=lang)
            labels = [*self._prompts.menu_choices(lang), *self._prompts.language_choices()]
            for spec in self._specs.values():
                for step in spec.steps:
                    labels.extend(self._prompts.step_choices(probe, step))
            ordinary.update(fold(c.label) for c in labels)
            ordinary.update(fold(c.value) for c in labels)
        folded = frozenset(fold(word) for word in words)
        for word in folded:
            is_country = any(
                len(self._countries.match(word, lang)) == 1 for lang in self._catalog.languages
            )
            if len(word) < 3 or word in ordinary or is_country:
                # The word itself is a secret: it must not end up in a log.
                raise ValueError(
                    "a duress word is too short, or is an ordinary answer "
                    "(an option, a command or a country name)"
                )
        return folded

    # -- public API -------------------------------------------------------

    def new_state(self, lang: str = "en") -> dict[str, object]:
        """A conversation at the main menu."""
        return Conversation(lang=lang if lang in self._catalog.languages else "en").dump()

    def current_prompt(self, state: Mapping[str, object]) -> Prompt:
        """What the conversation waits for (after a restart or a language change)."""
        conv = self._load(state)
        return self._prompts.current(conv or Conversation(lang=self._lang_of(state)))

    def attachments(self, state: Mapping[str, object]) -> tuple[str, ...]:
        """The attachment ids a stored state holds: what to destroy when the
        caller expires an idle draft."""
        conv = self._load(state)
        return self._out.attachments(conv) if conv is not None else self._salvage(state)

    def handle(self, state: Mapping[str, object], answer: Answer) -> Outcome:
        """Answer one message. ``state`` is not modified.

        A state that cannot be read (corrupt, or from a spec that has changed)
        is replaced by a fresh one: the defender is told, its files are handed
        back for destruction, and the message is then handled as usual (so a
        /delete or the duress word still works).
        """
        conv = self._load(state)
        if conv is not None:
            return self._handle(conv, answer)
        conv = Conversation(lang=self._lang_of(state))
        if not (isinstance(state, Mapping) and state.get("flow")):
            return self._handle(conv, answer)
        outcome = self._handle(conv, answer)
        lost = self._prompts.text(conv.lang, "engine.draft_lost")
        effects = (DiscardDraft(self._salvage(state)), *outcome.effects)
        return Outcome(outcome.state, (lost, *outcome.prompts), effects)

    def _handle(self, conv: Conversation, answer: Answer) -> Outcome:
        if too_large(answer):
            return self._out.refuse(conv, Rejection("invalid.too_large"), answer)
        if answer.text is not None and self._duress and fold(answer.text) in self._duress:
            attachments = self._out.attachments(conv)
            conv.reset()
            conv.welcomed = False  # looks like a conversation that never began
            return Outcome(conv.dump(), self._out.welcome(conv), (Duress(attachments),))
        if answer.attachment is not None:
            return self._steps.on_attachment(conv, answer)
        if answer.choice is None and answer.text is not None:
            command = parse_command(answer.text)
            if command is not None:
                return self._on_command(conv, command)
        if conv.pending_kind() == "language":
            return self._on_language(conv, answer)
        if conv.pending_kind() == "edit":
            return self._on_edit(conv, answer)
        if conv.flow is None or conv.step is None:
            return self._on_menu(conv, answer)
        spec = self._specs[conv.flow]
        step = spec.step(conv.step)
        return self._steps.by_expect[step.expect](conv, spec, step, answer)

    # -- state in and out ---------------------------------------------------

    def _lang_of(self, state: Mapping[str, object]) -> str:
        lang = state.get("lang") if isinstance(state, Mapping) else None
        return lang if isinstance(lang, str) and lang in self._catalog.languages else "en"

    def _load(self, state: Mapping[str, object]) -> Conversation | None:
        conv = Conversation.load(state)
        if conv is None:
            return None
        conv.lang = self._lang_of(state)
        if conv.flow is None:
            return conv if not conv.history else None
        spec = self._specs.get(conv.flow)
        if spec is None or conv.step is None or not spec.has_step(conv.step):
            return None  # e.g. a step removed from the spec since the draft began
        if not all(spec.has_step(step_id) for step_id in conv.history):
            return None
        return conv

    def _salvage(self, state: Mapping[str, object]) -> tuple[str, ...]:
        """The attachment ids an unreadable state still names, to destroy them."""
        flow, answers = state.get("flow"), state.get("answers")
        spec = self._specs.get(flow) if isinstance(flow, str) else None
        if spec is None or not isinstance(answers, dict):
            return ()
        found: list[str] = []
        for step in spec.steps:
            files = answers.get(step.id)
            if step.expect is Expect.FILES and isinstance(files, list):
                found.extend(item for item in files if isinstance(item, str))
        return tuple(found)

    # -- menus ----------------------------------------------------------------

    def _on_menu(self, conv: Conversation, answer: Answer) -> Outcome:
        value = match_choice(raw_text(answer), self._prompts.menu_choices(conv.lang))
        if value == "language":
            return self._cmd_language(conv)
        spec = self._specs.get(value or "")
        if spec is None and not conv.welcomed:  # first contact: say who we are
            conv.welcomed = True
            return Outcome(conv.dump(), self._out.welcome(conv))
        if spec is None:
            return self._out.refuse(conv, Rejection("invalid.not_an_option"))
        conv.reset()
        conv.welcomed = True  # the menu was seen: a wrong answer later gets a short reply
        conv.flow, conv.step = spec.name, spec.start
        return self._out.stay(conv)

    def _on_edit(self, conv: Conversation, answer: Answer) -> Outcome:
        value = match_choice(raw_text(answer), self._prompts.edit_choices(conv))
        if value is None:
            return self._out.refuse(conv, Rejection("invalid.choice"))
        if value == "keep":  # change nothing: back to the summary
            conv.pending = None
            return self._out.stay(conv)
        return self._out.edit(conv, value)

    def _on_language(self, conv: Conversation, answer: Answer) -> Outcome:
        value = match_choice(raw_text(answer), self._prompts.language_choices())
        if value is None:
            return self._out.refuse(conv, Rejection("invalid.choice"))
        conv.lang = value
        conv.pending = None
        return self._out.stay(conv, self._prompts.text(conv.lang, "engine.language_changed"))

    # -- commands -------------------------------------------------------------

    def _on_command(self, conv: Conversation, command: ParsedCommand) -> Outcome:
        if command.command is None:
            unknown = self._prompts.text(
                conv.lang, "engine.unknown_command", command=f"/{command.word}"
            )
            return self._out.stay(conv, unknown, self._prompts.text(conv.lang, "engine.help"))
        if command.command is Command.STATUS:
            return self._cmd_status(conv, command.argument)
        return self._commands[command.command](conv)

    def _cmd_start(self, conv: Conversation) -> Outcome:
        if conv.pending_kind() == "language":
            conv.pending = None
        welcome = self._prompts.text(conv.lang, "engine.welcome")
        if conv.flow is None:
            return Outcome(conv.dump(), self._out.welcome(conv))
        in_progress = self._prompts.text(conv.lang, "engine.draft_in_progress")
        return self._out.stay(conv, welcome, in_progress)

    def _cmd_help(self, conv: Conversation) -> Outcome:
        return self._out.stay(conv, self._prompts.text(conv.lang, "engine.help"))

    def _cmd_back(self, conv: Conversation) -> Outcome:
        if conv.pending_kind() in ("language", "country", "edit"):  # close the picker first
            conv.pending = None
            return self._out.stay(conv)
        if conv.flow is None:
            return self._out.stay(conv, self._prompts.text(conv.lang, "engine.no_draft"))
        if not conv.history:
            return self._out.stay(conv, self._prompts.text(conv.lang, "engine.first_step"))
        return self._out.back(conv)

    def _cmd_cancel(self, conv: Conversation) -> Outcome:
        if conv.flow is None:
            conv.pending = None
            return self._out.stay(conv, self._prompts.text(conv.lang, "engine.no_draft"))
        return self._out.end(conv, "engine.cancelled")

    def _cmd_language(self, conv: Conversation) -> Outcome:
        conv.pending = {"kind": "language"}
        return self._out.stay(conv)

    def _cmd_delete(self, conv: Conversation) -> Outcome:
        effects = (Wipe(self._out.attachments(conv)),)
        conv.reset()
        conv.welcomed = False  # the chat is wiped: the next message is a first contact
        prompts = (self._prompts.text(conv.lang, "engine.deleted"), self._prompts.menu(conv.lang))
        return Outcome(conv.dump(), prompts, effects)

    def _cmd_status(self, conv: Conversation, reference: str | None = None) -> Outcome:
        return Outcome(conv.dump(), (self._prompts.current(conv),), (ShowStatus(reference),))
