"""Building the localized prompts the engine shows: menus, pickers, questions."""

from __future__ import annotations

from collections.abc import Mapping

from babel.numbers import format_decimal

from flows.catalog import Catalog
from flows.countries import CountryMatcher
from flows.place_answer import PLACE_SUFFIX
from flows.spec_types import Expect, FlowSpec, StepSpec
from flows.state import Conversation
from flows.summary import format_answer, render_summary
from flows.values import Choice, Prompt

__all__ = ["ENGINE_KEYS", "PromptBuilder"]

# Every catalog key the engine itself uses; checked when the Engine is built.
ENGINE_KEYS = (
    "engine.welcome",
    "engine.menu",
    "engine.language",
    "engine.language_prompt",
    "engine.language_changed",
    "engine.help",
    "engine.unknown_command",
    "engine.draft_in_progress",
    "engine.first_step",
    "engine.no_draft",
    "engine.cancelled",
    "engine.aborted",
    "engine.deleted",
    "engine.draft_lost",
    "engine.done",
    "engine.skip",
    "engine.keep",
    "engine.current_answer",
    "engine.selected",
    "engine.multi_hint",
    "engine.date_hint",
    "engine.file_received",
    "engine.files_count",
    "engine.caption_ignored",
    "engine.too_many_files",
    "engine.file_not_expected",
    "engine.submitted",
    "engine.confirm",
    "engine.edit",
    "engine.cancel",
    "invalid.choice",
    "invalid.multi_empty",
    "invalid.text_empty",
    "invalid.text_too_long",
    "invalid.text_chars",
    "invalid.text_expected",
    "invalid.too_large",
    "invalid.date",
    "invalid.date_future",
    "invalid.date_far",
    "invalid.country_none",
    "invalid.country_many",
    "invalid.files_text",
    "invalid.not_an_option",
    "engine.edit_prompt",
    "engine.edit_nothing",
    "engine.country_confirm",
    "engine.country_retry",
    "engine.country_unlisted",
    "engine.country_unlisted_answer",
    "notice.telegram_not_e2e",
)
_PREVIEW = 200  # characters of a previous answer shown when a question comes back
_EDIT_PREVIEW = 60  # characters of each answer in the list of answers to change


class PromptBuilder:
    """Turns a conversation into the prompt for where it stands."""

    def __init__(
        self, specs: Mapping[str, FlowSpec], catalog: Catalog, countries: CountryMatcher
    ) -> None:
        self._specs = specs
        self._catalog = catalog
        self._countries = countries
        self._menu_order = sorted(specs.values(), key=lambda spec: (spec.order, spec.name))

    def text(self, lang: str, key: str, **params: str | int) -> Prompt:
        """A plain message; numbers are formatted for ``lang``."""
        values = {
            name: str(format_decimal(value, locale=lang)) if isinstance(value, int) else value
            for name, value in params.items()
        }
        return Prompt(self._catalog.text(lang, key, **values))

    def _t(self, lang: str, key: str, **params: str) -> str:
        return self._catalog.text(lang, key, **params)

    def menu_choices(self, lang: str) -> tuple[Choice, ...]:
        flows = [Choice(spec.name, self._t(lang, spec.title)) for spec in self._menu_order]
        return (*flows, Choice("language", self._t(lang, "engine.language")))

    def menu(self, lang: str) -> Prompt:
        return Prompt(self._t(lang, "engine.menu"), self.menu_choices(lang))

    def language_choices(self) -> tuple[Choice, ...]:
        catalog = self._catalog
        return tuple(Choice(lang, catalog.language_name(lang)) for lang in catalog.languages)

    def language_picker(self, lang: str) -> Prompt:
        return Prompt(self._t(lang, "engine.language_prompt"), self.language_choices())

    def step_choices(self, conv: Conversation, step: StepSpec) -> tuple[Choice, ...]:
        """The choices accepted at ``step`` right now (shown or not)."""
        lang = conv.lang
        if step.expect in (Expect.CHOICE, Expect.YESNO, Expect.MULTI):
            options = tuple(Choice(v, self._t(lang, key)) for v, key in step.choices())
            if step.expect is Expect.MULTI:
                return (*options, Choice("done", self._t(lang, "engine.done")))
            return options
        if step.expect is Expect.CONFIRM:
            return tuple(
                Choice(value, self._t(lang, f"engine.{value}"))
                for value in ("confirm", "edit", "cancel")
            )
        if step.expect is Expect.FILES:
            files = conv.answers.get(step.id) or []
            label = "engine.done" if files else "engine.skip"
            return (Choice("done" if files else "skip", self._t(lang, label)),)
        if step.expect is Expect.COUNTRY and conv.pending_kind() == "country":
            return self._place_choices(conv)
        if step.id in conv.answers:
            return (Choice("keep", self._t(lang, "engine.keep")),)
        return ()

    def _place_choices(self, conv: Conversation) -> tuple[Choice, ...]:
        """One place: yes (its code) or no; several: their names. Always a way out."""
        lang = conv.lang
        codes, labels = conv.pending_list("codes"), conv.pending_list("labels")
        unlisted = Choice("unlisted", self._t(lang, "engine.country_unlisted"))
        if len(codes) == 1:
            yes, no = self._t(lang, "common.yes"), self._t(lang, "engine.country_retry")
            return (Choice(codes[0], yes), Choice("retry", no), unlisted)
        if len(labels) != len(codes):  # a state from before labels were kept
            labels = [self._countries.name(code, lang) for code in codes]
        return (*(Choice(c, label) for c, label in zip(codes, labels, strict=True)), unlisted)

    def edit_choices(self, conv: Conversation) -> tuple[Choice, ...]:
        """Every answer on the path, to pick the one to change; or change nothing."""
        lang = conv.lang
        spec = self._specs[conv.flow] if conv.flow else None
        found: list[Choice] = []
        for step_id in conv.history if spec else ():
            step = spec.step(step_id) if spec else None
            if step is None or step.label is None or step_id not in conv.answers:
                continue
            shown = format_answer(
                step,
                conv.answers[step_id],
                lang,
                self._catalog,
                self._countries,
                conv.answers.get(step_id + PLACE_SUFFIX),
            )
            if len(shown) > _EDIT_PREVIEW:
                shown = shown[:_EDIT_PREVIEW] + "…"
            label = self._catalog.text(lang, "summary.line", label=self._t(lang, step.label), value=shown)
            found.append(Choice(step_id, label))
        return (*found, Choice("keep", self._t(lang, "engine.edit_nothing")))

    def selection(self, conv: Conversation, step: StepSpec) -> list[str]:
        """The multi step's selection so far (pending, else the earlier answer)."""
        if conv.pending_kind() == "multi":
            return conv.pending_list("selected")
        previous = conv.answers.get(step.id)
        return list(previous) if isinstance(previous, list) else []

    def step(self, conv: Conversation, spec: FlowSpec, step: StepSpec) -> Prompt:
        """The question at ``step`` of ``spec``, where ``conv`` stands."""
        lang = conv.lang
        parts = [self._t(lang, step.prompt)]
        choices = self.step_choices(conv, step)
        if step.expect is Expect.CONFIRM:
            summary = render_summary(
                spec, conv.answers, conv.history, lang, self._catalog, self._countries
            )
            parts.insert(0, summary)
        elif step.expect is Expect.MULTI:
            selected = self.selection(conv, step)
            if selected:
                items = format_answer(step, selected, lang, self._catalog, self._countries)
                parts.append(self._t(lang, "engine.selected", items=items))
            parts.append(self._t(lang, "engine.multi_hint"))
        elif step.expect is Expect.FILES:
            count = len(conv.answers.get(step.id) or [])
            if count:
                parts.append(self.text(lang, "engine.files_count", count=count).text)
        elif step.expect is Expect.COUNTRY and conv.pending_kind() == "country":
            offered = [c for c in choices if c.value not in ("retry", "unlisted")]
            if len(choices) == 3 and choices[1].value == "retry":  # one place: confirm it
                labels = conv.pending_list("labels")
                named = labels[0] if labels else self._countries.name(choices[0].value, lang)
                parts = [self._t(lang, "engine.country_confirm", place=named)]
            elif offered:
                parts = [self._t(lang, "invalid.country_many")]
        elif step.id in conv.answers and not step.secret:  # a secret is never shown back
            place = conv.answers.get(step.id + PLACE_SUFFIX)
            shown = format_answer(
                step, conv.answers[step.id], lang, self._catalog, self._countries, place
            )
            if len(shown) > _PREVIEW:
                shown = shown[:_PREVIEW] + "…"
            parts.append(self._t(lang, "engine.current_answer", answer=shown))
        if step.expect is Expect.DATE:
            parts.append(self._t(lang, "engine.date_hint"))
        return Prompt("\n\n".join(parts), choices, multi=step.expect is Expect.MULTI)

    def current(self, conv: Conversation) -> Prompt:
        """Whatever the conversation is waiting for."""
        if conv.pending_kind() == "language":
            return self.language_picker(conv.lang)
        if conv.pending_kind() == "edit" and conv.flow is not None:
            return Prompt(self._t(conv.lang, "engine.edit_prompt"), self.edit_choices(conv))
        if conv.flow is None or conv.step is None:
            return self.menu(conv.lang)
        spec = self._specs[conv.flow]
        return self.step(conv, spec, spec.step(conv.step))
