"""What the engine receives from its caller and what it hands back.

The engine never does I/O: it answers one :class:`Answer` with an
:class:`Outcome` holding the new conversation state, the prompts to show, and
the effects the caller (the conversation service in ``intake``) must carry
out. Where an effect needs a message of the caller's own (the case reference
after :class:`Submit`, the case list after :class:`ShowStatus`), the caller
shows it before ``Outcome.prompts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Answer",
    "Choice",
    "DiscardDraft",
    "Duress",
    "Effect",
    "Outcome",
    "Prompt",
    "RoutingFacts",
    "ShowStatus",
    "Submit",
    "Wipe",
]


@dataclass(frozen=True)
class Choice:
    """One option: ``value`` comes back in ``Answer.choice``; ``label`` is shown."""

    value: str
    label: str


@dataclass(frozen=True)
class Prompt:
    """One message to show; with choices, as buttons or a numbered list."""

    text: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False


@dataclass(frozen=True)
class Answer:
    """What the defender sent: typed text, a pressed choice, or an attachment.

    ``attachment`` is an opaque id the caller assigned to a file it holds.
    Text sent with an attachment (a caption) is not read; the defender is told.
    """

    text: str | None = None
    choice: str | None = None
    attachment: str | None = None


@dataclass(frozen=True)
class RoutingFacts:
    """The plaintext facts routing needs; nothing else from the answers.

    ``country`` is an ISO 3166-1 alpha-2 code (or "XK"), None when the defender
    chose "my country is not listed" (route to the fallback queue);
    ``subdivision`` the ISO 3166-2 code ("UA-43") when they named a first-level
    subdivision or territory of it, else None. See :mod:`flows.countries`.
    """

    kind: str
    country: str | None
    category: tuple[str, ...]
    urgency: str | None
    subdivision: str | None = None


@dataclass(frozen=True)
class Submit:
    """The defender confirmed: store the case, seal it, tell them the reference.

    ``answers`` maps the step ids on the path taken to JSON values (strings,
    lists of strings; dates as ISO ``YYYY-MM-DD``; files as attachment ids;
    places as codes, see :mod:`flows.countries`), plus ``"<step>.place"``, the
    place as typed, after a country step answered "not listed" (``"ZZ"``).
    """

    flow: str
    answers: Mapping[str, object]
    routing: RoutingFacts
    language: str


@dataclass(frozen=True)
class DiscardDraft:
    """A draft (or some of its files) ended without submission: destroy these."""

    attachments: tuple[str, ...]


@dataclass(frozen=True)
class Wipe:
    """/delete: destroy the draft's files and wipe the chat."""

    attachments: tuple[str, ...]


@dataclass(frozen=True)
class ShowStatus:
    """/status REF: show the state of the case the defender names (no content).

    The conversation keeps no list of its cases, so the defender gives the
    reference they kept; `reference` is None for a bare /status (ask for it).
    """

    reference: str | None = None


@dataclass(frozen=True)
class Duress:
    """The duress word was typed: wipe the chat, destroy files, flag the cases."""

    attachments: tuple[str, ...]


Effect = Submit | DiscardDraft | Wipe | ShowStatus | Duress


@dataclass(frozen=True)
class Outcome:
    """The engine's answer: the new state (JSON-serialisable), prompts, effects."""

    state: dict[str, object]
    prompts: tuple[Prompt, ...]
    effects: tuple[Effect, ...] = ()
