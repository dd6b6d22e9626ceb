"""The conversation service: the one place that joins flows, storage and crypto.

`handle_batch` takes neutral inbound messages and returns, for each, the
replies to render. A batch is one transaction: the channel acknowledges the
platform (Telegram offset, Matrix sync token) only after it returns, so a
crash at any point leaves the messages unacknowledged and they come again;
the processed-message table makes the second arrival a no-op.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from flows import (
    Answer,
    Catalog,
    DiscardDraft,
    Duress,
    Engine,
    Outcome,
    Prompt,
    ShowStatus,
    Submit,
    Wipe,
    render_status,
)
from intake import storage
from intake.config import RoutingSettings
from intake.messages import Attachment, Choice, Inbound, Outbound, Reply, WipeChat
from intake.missions import mission_exists, missions_serving
from intake.models import Attachment as AttachmentRow
from intake.models import Case, Conversation
from intake.records import RecordCipher, new_record_id
from intake.references import new_reference
from intake.routing import Router, RoutingFacts

log = logging.getLogger(__name__)

URGENCY_RANK = {"immediate": 0, "days": 1, "not_urgent": 2}
_REFERENCE_ATTEMPTS = 8
STATE_VERSION = 1


@dataclass
class _Turn:
    """What one inbound message works on, loaded and decrypted."""

    conversation: Conversation
    dek: Any
    record: dict[str, Any]


def prompt_to_reply(prompt: Prompt) -> Reply:
    return Reply(
        text=prompt.text,
        choices=tuple(Choice(c.value, c.label) for c in prompt.choices),
        multi=prompt.multi,
    )


class ConversationService:
    """Answers defenders' messages.

    Args:
        sessions: opens database sessions.
        engine: the flow engine (shared, stateless between calls).
        catalog: the message catalog the engine speaks from.
        cipher: seals and opens fields under the server keyring.
        routing: routing rules and fallback from the configuration.
        clock: returns the current aware UTC time.
        default_language: for a new conversation without a platform hint.
        draft_idle: a draft untouched this long is destroyed at next contact.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: Engine,
        catalog: Catalog,
        cipher: RecordCipher,
        routing: RoutingSettings,
        clock: Callable[[], datetime],
        default_language: str = "en",
        draft_idle: timedelta = timedelta(hours=72),
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._catalog = catalog
        self._cipher = cipher
        self._routing = routing
        self._clock = clock
        self._default_language = default_language
        self._draft_idle = draft_idle
        self._effects: dict[type, Callable[[Session, _Turn, Any], list[Outbound]]] = {
            Submit: self._on_submit,
            DiscardDraft: self._on_discard,
            Wipe: self._on_wipe,
            Duress: self._on_duress,
            ShowStatus: self._on_status,
        }

    def handle(self, message: Inbound) -> list[Outbound]:
        return self.handle_batch([message])[0]

    def handle_batch(self, messages: Sequence[Inbound]) -> list[list[Outbound]]:
        """Process messages in order, in one transaction; durable when this returns.

        A duplicate (already processed) message gets an empty reply list.
        Any exception rolls the whole batch back: nothing is acknowledged, so
        the channel retries it later.
        """
        with self._sessions.begin() as session:
            return [self._process(session, message) for message in messages]

    # -- one message -----------------------------------------------------

    def _process(self, session: Session, message: Inbound) -> list[Outbound]:
        now = self._clock()
        digests = [
            digest
            for _, digest in self._cipher.pseudonym_candidates(
                f"message:{message.channel}", message.message_id
            )
        ]
        if storage.message_seen(session, message.channel, digests):
            log.info("duplicate message ignored", extra={"channel": message.channel})
            return []
        storage.record_message(session, message.channel, digests[0], now)

        turn = self._load_turn(session, message, now)
        answer = Answer(text=message.text, choice=message.choice)
        if message.attachment is not None:
            answer = Answer(
                attachment=self._store_attachment(session, turn, message.attachment, now)
            )
        outcome = self._engine.handle(turn.record["flow"], answer)
        replies = self._apply(session, turn, outcome)
        self._save_turn(turn, now)
        log.info(
            "message processed",
            extra={"channel": message.channel, "conversation": turn.conversation.id},
        )
        return replies

    def _apply(self, session: Session, turn: _Turn, outcome: Outcome) -> list[Outbound]:
        turn.record["flow"] = dict(outcome.state)
        replies: list[Outbound] = []
        for effect in outcome.effects:
            replies.extend(self._effects[type(effect)](session, turn, effect))
        replies.extend(prompt_to_reply(prompt) for prompt in outcome.prompts)
        return replies

    # -- conversation records ---------------------------------------------

    def _load_turn(self, session: Session, message: Inbound, now: datetime) -> _Turn:
        candidates = self._cipher.pseudonym_candidates(f"sender:{message.channel}", message.sender)
        conversation = storage.find_conversation(
            session, message.channel, [digest for _, digest in candidates]
        )
        if conversation is None:
            return self._new_turn(session, message, candidates[0], now)
        dek = self._cipher.open_key("conversation", conversation.id, conversation.dek_wrapped)
        record = self._cipher.open_json(
            dek, "conversation", conversation.id, "state", conversation.state_ct
        )
        primary_version, primary_digest = candidates[0]
        if conversation.sender_pseudonym != primary_digest:
            # Pseudonym key rotated: move this sender to the primary version.
            conversation.sender_pseudonym = primary_digest
            conversation.pseudonym_version = primary_version
        turn = _Turn(conversation, dek, record)
        if now - conversation.last_seen_at > self._draft_idle:
            self._expire_draft(session, turn)
        return turn

    def _new_turn(
        self, session: Session, message: Inbound, pseudonym: tuple[int, str], now: datetime
    ) -> _Turn:
        conversation_id = new_record_id()
        dek, wrapped, version = self._cipher.new_key("conversation", conversation_id)
        # Platforms send tags like "fr-FR"; the engine falls back to English if unknown.
        language = (message.language or self._default_language).split("-")[0].lower()
        record = {"v": STATE_VERSION, "flow": self._engine.new_state(language), "cases": []}
        conversation = Conversation(
            id=conversation_id,
            channel=message.channel,
            sender_pseudonym=pseudonym[1],
            pseudonym_version=pseudonym[0],
            dek_wrapped=wrapped,
            kek_version=version,
            # Who can decrypt: the service (keyring); needed to deliver replies.
            chat_ct=self._cipher.seal(
                dek, "conversation", conversation_id, "chat", message.chat.encode("utf-8")
            ),
            state_ct=b"",
            created_at=now,
            last_seen_at=now,
        )
        session.add(conversation)
        return _Turn(conversation, dek, record)

    def _save_turn(self, turn: _Turn, now: datetime) -> None:
        conversation = turn.conversation
        # Who can decrypt: the service (keyring). The draft lives here until submitted.
        conversation.state_ct = self._cipher.seal_json(
            turn.dek, "conversation", conversation.id, "state", turn.record
        )
        conversation.last_seen_at = now

    def _expire_draft(self, session: Session, turn: _Turn) -> None:
        language = str(turn.record["flow"].get("lang", self._default_language))
        storage.delete_draft_attachments(session, turn.conversation.id)
        turn.record["flow"] = self._engine.new_state(language)
        log.info("idle draft destroyed", extra={"conversation": turn.conversation.id})

    def _store_attachment(
        self, session: Session, turn: _Turn, attachment: Attachment, now: datetime
    ) -> str:
        attachment_id = new_record_id()
        dek, wrapped, version = self._cipher.new_key("attachment", attachment_id)
        meta = {
            "media_type": attachment.media_type,
            "name": attachment.name,
            "size": len(attachment.data),
        }
        session.add(
            AttachmentRow(
                id=attachment_id,
                conversation_id=turn.conversation.id,
                dek_wrapped=wrapped,
                kek_version=version,
                # Who can decrypt: the service until submission, then whoever opens the case.
                meta_ct=self._cipher.seal_json(dek, "attachment", attachment_id, "meta", meta),
                data_ct=self._cipher.seal(
                    dek, "attachment", attachment_id, "data", attachment.data
                ),
                created_at=now,
            )
        )
        return attachment_id

    # -- effects ----------------------------------------------------------

    def _language(self, turn: _Turn) -> str:
        return str(turn.record["flow"].get("lang", self._default_language))

    def _on_submit(self, session: Session, turn: _Turn, effect: Submit) -> list[Outbound]:
        now = self._clock()
        facts = RoutingFacts(
            kind=effect.routing.kind,
            country=effect.routing.country,
            category=tuple(effect.routing.category),
            urgency=effect.routing.urgency,
        )
        router = Router(
            self._routing.rules,
            self._routing.fallback,
            serving=lambda country: list(missions_serving(session, country)),
            exists=lambda mission: mission_exists(session, mission),
        )
        mission_id = router.route(facts)
        case_id = new_record_id()
        reference = self._unused_reference(session)
        dek, wrapped, version = self._cipher.new_key("case", case_id)
        files = self._adopt_attachments(session, turn, case_id)
        payload = {
            "flow": effect.flow,
            "language": effect.language,
            "answers": dict(effect.answers),
            "routing": {
                "kind": facts.kind,
                "country": facts.country,
                "category": list(facts.category),
                "urgency": facts.urgency,
            },
            "attachments": files,
            "conversation": turn.conversation.id,
            "channel": turn.conversation.channel,
        }
        urgency = facts.urgency or "not_urgent"
        session.add(
            Case(
                id=case_id,
                reference=reference,
                mission_id=mission_id,
                kind=facts.kind,
                urgency=urgency,
                urgency_rank=URGENCY_RANK.get(urgency, len(URGENCY_RANK)),
                status="new",
                flagged=False,
                submitted_at=now,
                updated_at=now,
                dek_wrapped=wrapped,
                kek_version=version,
                # Who can decrypt: the service (keyring) for now; triage seals it to the mission.
                payload_ct=self._cipher.seal_json(dek, "case", case_id, "payload", payload),
            )
        )
        turn.record["cases"].append(reference)
        log.info(
            "case submitted", extra={"case": reference, "mission": mission_id, "kind": facts.kind}
        )
        text = self._catalog.text(self._language(turn), "engine.submitted", reference=reference)
        return [WipeChat(), Reply(text=text)]

    def _unused_reference(self, session: Session) -> str:
        for _ in range(_REFERENCE_ATTEMPTS):
            reference = new_reference()
            if not storage.reference_taken(session, reference):
                return reference
        raise RuntimeError("could not draw an unused case reference; the space is exhausted")

    def _adopt_attachments(self, session: Session, turn: _Turn, case_id: str) -> dict[str, str]:
        """Move the draft's files to the case: their keys go into the case payload."""
        files: dict[str, str] = {}
        for row in storage.draft_attachments(session, turn.conversation.id):
            assert row.dek_wrapped is not None  # noqa: S101 - drafts always carry their key
            dek = self._cipher.open_key("attachment", row.id, row.dek_wrapped)
            files[row.id] = base64.b64encode(dek).decode("ascii")
            row.case_id = case_id
            row.conversation_id = None
            row.dek_wrapped = None
            row.kek_version = None
        return files

    def _on_discard(self, session: Session, turn: _Turn, effect: DiscardDraft) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id)
        return []

    def _on_wipe(self, session: Session, turn: _Turn, effect: Wipe) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id)
        return [WipeChat()]

    def _on_duress(self, session: Session, turn: _Turn, effect: Duress) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id)
        storage.flag_cases(session, turn.record["cases"], self._clock())
        log.warning("duress word received", extra={"conversation": turn.conversation.id})
        return [WipeChat()]

    def _on_status(self, session: Session, turn: _Turn, effect: ShowStatus) -> list[Outbound]:
        cases = storage.cases_by_reference(session, turn.record["cases"])
        listing = [(case.reference, case.status, case.updated_at.date()) for case in cases]
        return [Reply(text=render_status(self._catalog, self._language(turn), listing))]
