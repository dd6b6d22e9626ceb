"""One case as an officer reads it: the one renderer of the CLI (`queue show`) and the web.

It turns an opened case (`actions.OpenedCase`: the decrypted payload, files and
events) and the case's audit entries into a `CaseFile`: plain data, already in
words. The defender's answers come out as the flow's own labels in the officer's
language (from the flows catalogs and specs), places as country names, dates as
local dates; the timeline joins what the audit log recorded (submission,
acknowledgement, claim, assignment, unclaim, state changes, transfers, duress)
with the sealed events (notes, replies, the defender's answers, device warnings,
the reasons given for a state change or a transfer). Nothing here does I/O or
decides anything; the entry points only lay it out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError

from flows import PLACE_SUFFIX, Catalog, CountryMatcher, FlowSpec, format_answer
from intake.storage.models import AuditEntry
from intake.triage.actions import OpenedCase
from intake.triage.queue import CaseSummary, summary
from intake.triage.workflow import STATUSES

__all__ = ["AnswerLine", "CaseFile", "CaseRenderer", "FileLine", "TimelineEntry"]


@dataclass(frozen=True)
class AnswerLine:
    """One question and the defender's answer, both in words (`free`: typed by the defender)."""

    step: str
    label: str
    value: str
    free: bool


@dataclass(frozen=True)
class FileLine:
    id: str
    index: int
    media_type: str
    name: str | None
    size: int


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened to the case.

    `text` is sealed content (a note, a reply, the defender's words, a reason, a
    warning), or None for a step that carries none.
    """

    at: datetime
    kind: str
    actor: str
    what: str
    text: str | None = None


@dataclass(frozen=True)
class CaseFile:
    summary: CaseSummary
    kind_label: str
    country: str
    language: str
    language_name: str
    language_direction: str
    answers: tuple[AnswerLine, ...]
    files: tuple[FileLine, ...]
    timeline: tuple[TimelineEntry, ...]
    officer_language: str

    @property
    def reference(self) -> str:
        return self.summary.reference

    def as_json(self, now: datetime, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **self.summary.as_json(now),
            "kind_label": self.kind_label,
            "country_name": self.country,
            "language": self.language,
            # Never the files' data keys, the sealed return address or internal ids.
            "report": report_view(payload),
            "answers": [{"step": a.step, "label": a.label, "value": a.value} for a in self.answers],
            # Files by their number in this case (as --save-attachments names them).
            "attachments": [
                {"n": n, "media_type": f.media_type, "name": f.name, "size": f.size}
                for n, f in enumerate(self.files, start=1)
            ],
            "timeline": [
                {
                    "at": t.at.isoformat(),
                    "kind": t.kind,
                    "actor": t.actor,
                    "what": t.what,
                    "text": t.text,
                }
                for t in self.timeline
            ],
        }


_REPORT_FIELDS = ("flow", "language", "answers", "routing")


def report_view(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a case payload an officer's script may read."""
    return {key: payload[key] for key in _REPORT_FIELDS if key in payload}


# Audit actions shown as they are, in words; (kind, what). {from}/{to} come from the entry.
_STEPS: dict[str, tuple[str, str]] = {
    "case.submitted": ("submitted", "submitted by the defender, routed to {mission}"),
    "case.ack": ("state", "acknowledged"),
    "case.start": ("state", "state {from} -> {to}"),
    "case.await_defender": ("state", "state {from} -> {to}"),
    "case.escalate": ("state", "escalated"),
    "case.close": ("state", "closed"),
    "case.reopen": ("state", "reopened"),
    "case.claim": ("claim", "claimed"),
    "case.assign": ("assign", "assigned to {to}"),
    "case.unclaim": ("unclaim", "unclaimed (was {from})"),
    "case.duress": ("duress", "the defender typed the duress word: their chat was wiped"),
}
# Events (sealed) shown with their text: kind -> what.
_EVENTS = {
    "note": "note",
    "reply": "reply to the defender",
    "defender": "the defender answered",
    "warning": "device warning",
}


class CaseRenderer:
    """Builds `CaseFile`s with the flows' catalogs, specs and place names."""

    def __init__(
        self, catalog: Catalog, specs: Mapping[str, FlowSpec], countries: CountryMatcher
    ) -> None:
        self._catalog = catalog
        self._specs = specs
        self._countries = countries

    @property
    def languages(self) -> tuple[str, ...]:
        return self._catalog.languages

    @property
    def language_names(self) -> tuple[tuple[str, str], ...]:
        """(code, the language's own name) of every catalog language."""
        return tuple((code, self._catalog.language_name(code)) for code in self._catalog.languages)

    def language(self, wanted: str | None) -> str:
        """`wanted` if the catalogs have it, else English."""
        return wanted if wanted in self._catalog.languages else "en"

    def kind_label(self, kind: str, lang: str) -> str:
        for spec in self._specs.values():
            if spec.kind == kind:
                return self._catalog.text(lang, spec.title)
        return kind.replace("_", " ")

    def country_name(self, code: str | None, lang: str) -> str:
        return self._countries.name(code, lang) if code else "-"

    def render(
        self, opened: OpenedCase, entries: Sequence[AuditEntry], officer_language: str
    ) -> CaseFile:
        lang = self.language(officer_language)
        payload = opened.payload
        defender_lang = str(payload.get("language") or "en")
        routing = payload.get("routing") or {}
        case = summary(opened.case)
        return CaseFile(
            summary=case,
            kind_label=self.kind_label(case.kind, lang),
            country=self.country_name(routing.get("country") or case.country, lang),
            language=defender_lang,
            language_name=_language_name(defender_lang, lang),
            language_direction=self._catalog.direction(defender_lang)
            if defender_lang in self._catalog.languages
            else "ltr",
            answers=self._answers(payload, lang),
            files=tuple(
                FileLine(a.id, index, a.media_type, a.name, len(a.data))
                for index, a in enumerate(opened.attachments, start=1)
            ),
            timeline=_timeline(opened, entries),
            officer_language=lang,
        )

    def _answers(self, payload: Mapping[str, Any], lang: str) -> tuple[AnswerLine, ...]:
        answers: Mapping[str, Any] = payload.get("answers") or {}
        spec = self._specs.get(str(payload.get("flow")))
        lines: list[AnswerLine] = []
        if spec is None:
            # A flow no longer shipped: show the stored keys, still never dropping an answer.
            return tuple(
                AnswerLine(key, key, _plain(value), True)
                for key, value in answers.items()
                if not key.endswith(PLACE_SUFFIX)
            )
        shown: set[str] = set()
        for step in spec.steps:
            if step.id not in answers:
                continue
            shown.add(step.id)
            label = self._catalog.text(lang, step.label or step.prompt)
            value = answers[step.id]
            try:
                words = format_answer(
                    step,
                    value,
                    lang,
                    self._catalog,
                    self._countries,
                    answers.get(step.id + PLACE_SUFFIX),
                )
            except (KeyError, ValueError, TypeError):
                words = _plain(value)
            free = step.expect.value == "text"
            lines.append(AnswerLine(step.id, label, words, free))
        for key, value in answers.items():
            if key not in shown and not key.endswith(PLACE_SUFFIX):
                lines.append(AnswerLine(key, key, _plain(value), True))
        return tuple(lines)


def _plain(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _language_name(code: str, lang: str) -> str:
    try:
        own = Locale.parse(code)
        name = own.get_display_name(lang) or code
        self_name = own.get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code
    return f"{name} ({self_name})" if name != self_name else str(name)


def _actor(actor: str) -> str:
    if actor.startswith("officer:"):
        return actor.removeprefix("officer:")
    return actor


def _timeline(opened: OpenedCase, entries: Sequence[AuditEntry]) -> tuple[TimelineEntry, ...]:
    texts = {event.id: event.text for event in opened.events if event.id}
    items: list[TimelineEntry] = []
    for entry in entries:
        detail: dict[str, Any] = dict(entry.detail or {})
        reason = texts.get(str(detail.get("reason", ""))) if detail.get("reason") else None
        if entry.action == "case.transfer":
            if detail.get("to") in STATUSES:
                continue  # the state half of a transfer; its mission half follows
            reason = _transfer_reason(entries, entry, texts)
            what = f"transferred from {detail.get('from')} to {detail.get('to')}"
            items.append(TimelineEntry(entry.at, "transfer", _actor(entry.actor), what, reason))
            continue
        known = _STEPS.get(entry.action)
        if known is None:
            continue  # openings, refusals, events (below): not steps of the case
        kind, template = known
        values = {"from": "", "to": "", "mission": ""} | {k: str(v) for k, v in detail.items()}
        items.append(
            TimelineEntry(entry.at, kind, _actor(entry.actor), template.format_map(values), reason)
        )
    for event in opened.events:
        said = _EVENTS.get(event.kind)
        if said is None:
            continue  # reasons: shown with their step
        items.append(
            TimelineEntry(event.created_at, event.kind, _actor(event.author), said, event.text)
        )
    items.sort(key=lambda item: item.at)
    return tuple(items)


def _transfer_reason(
    entries: Sequence[AuditEntry], transfer: AuditEntry, texts: Mapping[str, str]
) -> str | None:
    """The reason recorded on the state half of this transfer (the entry just before it)."""
    reason: object = None
    for entry in entries:
        if entry.seq >= transfer.seq:
            break
        if entry.action == "case.transfer" and (entry.detail or {}).get("to") in STATUSES:
            reason = (entry.detail or {}).get("reason")
    return texts.get(str(reason)) if reason else None
