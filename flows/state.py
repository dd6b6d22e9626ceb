"""The conversation state: a small JSON-serialisable dict, and its typed view.

The dict is what the caller stores (encrypted) between messages::

    {"v": 1, "lang": "fr", "flow": "threat_report", "step": "details",
     "answers": {"consent_store": "yes", "country": "UA", ...},
     "history": ["consent_store", "country", ...],   # steps answered, for /back
     "pending": null,   # or {"kind": "language"}, {"kind": "multi", "selected": [...]},
                        #    {"kind": "edit"} (which answer to change),
                        #    {"kind": "country", "codes": [...], "labels": [...], "place": "..."}
     "welcomed": true,  # the welcome was shown once: later wrong answers get a short reply
     "editing": []}     # changing one answer from the summary: the steps answered
                        # after it, not asked again when the path comes back to them

``welcomed`` and ``editing`` are absent from states stored before they existed
(read as false), so :data:`STATE_VERSION` stays 1.

Between messages no ``transitions`` model exists: the engine rebuilds a
:class:`Conversation` from the dict, attaches it to the flow's shared machine
for one step, and turns it back into a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["STATE_VERSION", "Conversation"]

STATE_VERSION = 1
_PENDING_KINDS = frozenset({"language", "country", "multi", "edit"})


def _strings(raw: object) -> list[str] | None:
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    return None


@dataclass
class Conversation:
    """One defender's conversation, between two messages."""

    lang: str
    flow: str | None = None
    step: str | None = None
    answers: dict[str, str | list[str]] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    pending: dict[str, str | list[str]] | None = None
    welcomed: bool = False
    editing: list[str] = field(default_factory=list)

    @property
    def idle(self) -> bool:
        return self.flow is None

    def pending_kind(self) -> str | None:
        kind = self.pending.get("kind") if self.pending else None
        return kind if isinstance(kind, str) else None

    def pending_list(self, name: str) -> list[str]:
        value = self.pending.get(name) if self.pending else None
        return list(value) if isinstance(value, list) else []

    def pending_text(self, name: str) -> str | None:
        value = self.pending.get(name) if self.pending else None
        return value if isinstance(value, str) else None

    def reset(self) -> None:
        """Back to the main menu, keeping the language."""
        self.flow = self.step = None
        self.answers = {}
        self.history = []
        self.pending = None
        self.editing = []

    def dump(self) -> dict[str, object]:
        """A fresh JSON-serialisable dict (shares nothing with this object)."""
        return {
            "v": STATE_VERSION,
            "lang": self.lang,
            "flow": self.flow,
            "step": self.step,
            "answers": {
                key: list(value) if isinstance(value, list) else value
                for key, value in self.answers.items()
            },
            "history": list(self.history),
            "pending": (
                {key: list(v) if isinstance(v, list) else v for key, v in self.pending.items()}
                if self.pending is not None
                else None
            ),
            "welcomed": self.welcomed,
            "editing": list(self.editing),
        }

    @classmethod
    def load(cls, state: Mapping[str, object]) -> Conversation | None:
        """Read a dict made by :meth:`dump`; None if it is not one (the input
        is copied, never modified)."""
        if not isinstance(state, Mapping) or state.get("v") != STATE_VERSION:
            return None
        lang, flow, step = state.get("lang"), state.get("flow"), state.get("step")
        raw_answers, raw_pending = state.get("answers"), state.get("pending")
        history = _strings(state.get("history"))
        if not isinstance(lang, str) or history is None or not isinstance(raw_answers, dict):
            return None
        if isinstance(flow, str) and isinstance(step, str):
            where: tuple[str | None, str | None] = (flow, step)
        elif flow is None and step is None:
            where = (None, None)
        else:
            return None
        answers: dict[str, str | list[str]] = {}
        for key, value in raw_answers.items():
            listed = _strings(value)
            if not isinstance(key, str) or not (isinstance(value, str) or listed is not None):
                return None
            answers[key] = listed if listed is not None else str(value)
        pending: dict[str, str | list[str]] | None = None
        if raw_pending is not None:
            if not isinstance(raw_pending, dict) or raw_pending.get("kind") not in _PENDING_KINDS:
                return None
            pending = {"kind": str(raw_pending["kind"])}
            for name in ("codes", "selected", "labels"):
                if name in raw_pending:
                    values = _strings(raw_pending[name])
                    if values is None:
                        return None
                    pending[name] = values
            if "place" in raw_pending:
                if not isinstance(raw_pending["place"], str):
                    return None
                pending["place"] = raw_pending["place"]
        welcomed, editing = state.get("welcomed", False), _strings(state.get("editing", []))
        if not isinstance(welcomed, bool) or editing is None:
            return None
        return cls(
            lang=lang,
            flow=where[0],
            step=where[1],
            answers=answers,
            history=history,
            pending=pending,
            welcomed=welcomed,
            editing=editing,
        )
