"""Conversation records as the service keeps them: found, opened, saved, expired, destroyed.

What is sealed to whom: a conversation's record (flow state, draft answers,
message ids to wipe, the one reply it awaits) and its draft files are sealed
under their own data keys, wrapped under the keyring's current draft-epoch key
and re-wrapped under the newest one at every save. Only the service opens
them, and only while that epoch's key exists: once it is destroyed the record
is noise, and the defender's next message starts a fresh conversation (told
that their draft expired), never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crypto import KeyNotFound, KeyRetired
from flows import Catalog, Engine
from intake.messages import Inbound, Reply
from intake.storage import conversations as storage
from intake.storage.conversation_record import Turn, new_record, open_turn, save_turn
from intake.storage.models import Conversation
from intake.storage.records import RecordCipher, new_record_id

log = logging.getLogger(__name__)

# The draft's key is gone: its epoch key was destroyed (or, for a record from
# before draft epochs, its KEK version retired).
KEY_GONE = (KeyNotFound, KeyRetired)


class Drafts:
    """Loads and stores conversation records for the service, inside its transaction.

    Args:
        cipher: seals records and wraps their keys under draft epochs.
        engine: the flow engine (new states, prompts).
        catalog: notices to the defender.
        default_language: for a new conversation without a platform hint.
        draft_idle: a draft untouched this long is destroyed at next contact.
        first_contact: channel -> catalog key of a notice shown once per conversation.
    """

    def __init__(
        self,
        cipher: RecordCipher,
        engine: Engine,
        catalog: Catalog,
        default_language: str,
        draft_idle: timedelta,
        first_contact: Mapping[str, str],
    ) -> None:
        self._cipher = cipher
        self._engine = engine
        self._catalog = catalog
        self._default_language = default_language
        self._draft_idle = draft_idle
        self._first_contact = dict(first_contact)

    def language(self, turn: Turn) -> str:
        return str(turn.record["flow"].get("lang", self._default_language))

    def find(self, session: Session, channel: str, sender: str) -> Conversation | None:
        """The sender's conversation, locked for this transaction (every caller changes it)."""
        return storage.conversation_to_update(session, channel, self._digests(channel, sender))

    def peek(self, session: Session, channel: str, sender: str) -> Turn | None:
        """The sender's conversation to read only (no lock), or None (none, or its key is gone)."""
        found = storage.find_conversation(session, channel, self._digests(channel, sender))
        return self._opened(found, sender)

    def open(self, session: Session, channel: str, sender: str) -> Turn | None:
        """The sender's conversation, locked, or None (none, or its key is gone)."""
        return self._opened(self.find(session, channel, sender), sender)

    def _digests(self, channel: str, sender: str) -> list[str]:
        candidates = self._cipher.pseudonym_candidates(f"sender:{channel}", sender)
        return [digest for _, digest in candidates]

    def _opened(self, conversation: Conversation | None, sender: str) -> Turn | None:
        if conversation is None:
            return None
        try:
            turn = open_turn(self._cipher, conversation)
        except KEY_GONE:
            return None
        turn.sender = sender
        return turn

    def load(self, session: Session, message: Inbound, now: datetime) -> Turn:
        """The sender's conversation for this message: theirs, or a fresh one."""
        candidates = self._cipher.pseudonym_candidates(f"sender:{message.channel}", message.sender)
        conversation = storage.conversation_to_update(
            session, message.channel, [digest for _, digest in candidates]
        )
        if conversation is None:
            return self.new(session, message, candidates[0], now)
        try:
            turn = open_turn(self._cipher, conversation)
        except KEY_GONE:
            # Its epoch key was destroyed: nothing of it can be read, by us or anyone.
            storage.delete_conversation(session, conversation.id)
            session.flush()
            log.info("conversation past its draft window replaced")
            turn = self.new(session, message, candidates[0], now)
            turn.notices.append(Reply(text=self._text(turn, "draft.expired")))
            return turn
        turn.sender = message.sender
        primary_version, primary_digest = candidates[0]
        if conversation.sender_pseudonym != primary_digest:
            # Pseudonym key rotated: move this sender to the primary version.
            conversation.sender_pseudonym = primary_digest
            conversation.pseudonym_version = primary_version
        if now - conversation.last_seen_at > self._draft_idle:
            self.expire(session, turn)
        return turn

    def new(
        self,
        session: Session,
        message: Inbound,
        pseudonym: tuple[int, str],
        now: datetime,
        notices: bool = True,
    ) -> Turn:
        conversation_id = new_record_id()
        dek, wrapped, epoch = self._cipher.new_draft_key("conversation", conversation_id)
        # Platforms send tags like "fr-FR"; the engine falls back to English if unknown.
        language = (message.language or self._default_language).split("-")[0].lower()
        conversation = Conversation(
            id=conversation_id,
            channel=message.channel,
            sender_pseudonym=pseudonym[1],
            pseudonym_version=pseudonym[0],
            dek_wrapped=wrapped,
            kek_version=None,
            draft_epoch=epoch,
            # Who can decrypt: the service (keyring, this draft epoch); needed to answer.
            chat_ct=self._cipher.seal(
                dek, "conversation", conversation_id, "chat", message.chat.encode("utf-8")
            ),
            state_ct=b"",
            created_at=now,
            last_seen_at=now,
        )
        storage.add_conversation(session, conversation)
        turn = Turn(conversation, dek, new_record(self._engine.new_state(language)))
        turn.sender = message.sender
        notice = self._first_contact.get(message.channel) if notices else None
        if notice is not None:
            turn.notices.append(Reply(text=self._text(turn, notice)))
        return turn

    def save(self, session: Session, turn: Turn, now: datetime | None = None) -> None:
        """Seal the record, and re-wrap it and its draft files under the current epoch."""
        if turn.destroyed:
            return
        before = turn.conversation.draft_epoch
        save_turn(self._cipher, turn)
        if now is not None:
            turn.conversation.last_seen_at = now
        epoch = turn.conversation.draft_epoch
        assert epoch is not None  # noqa: S101 - save_turn just set it
        if before == epoch:
            # Already on this epoch: its files moved with it (and new ones are born
            # under the current epoch), so there is nothing to look for.
            return
        for row in storage.draft_files_off_epoch(session, turn.conversation.id, epoch):
            assert row.dek_wrapped is not None  # noqa: S101 - a draft file carries its key
            dek = self._cipher.open_key("attachment", row.id, row.dek_wrapped)
            # Who can decrypt: the service, until this epoch's key is destroyed.
            row.dek_wrapped, row.draft_epoch = self._cipher.wrap_draft(dek, "attachment", row.id)
            row.kek_version = None

    def expire(self, session: Session, turn: Turn) -> None:
        """An idle draft: its files go and the flow starts over (the reply it awaits stays)."""
        language = self.language(turn)
        had_draft = turn.record["flow"].get("flow") is not None
        storage.delete_draft_attachments(session, turn.conversation.id)
        turn.record["flow"] = self._engine.new_state(language)
        if had_draft:
            turn.notices.append(Reply(text=self._text(turn, "draft.expired")))
        log.info("idle draft destroyed")

    def destroy(self, session: Session, turn: Turn) -> None:
        """Crypto-shred the conversation: its row (with the wrapped key) and its draft files."""
        storage.delete_conversation(session, turn.conversation.id)
        session.expunge(turn.conversation)
        turn.destroyed = True

    def fresh_key(self, turn: Turn) -> None:
        """Give the conversation a new data key (at submission).

        The old key opened every earlier copy of this record, in backups and
        logs of the database too; after this, nothing the server keeps opens
        them, and once their epoch keys are destroyed nobody can.
        """
        conversation = turn.conversation
        chat = self._cipher.open(
            turn.dek, "conversation", conversation.id, "chat", conversation.chat_ct
        )
        dek, _, _ = self._cipher.new_draft_key("conversation", conversation.id)
        turn.dek = dek
        # Who can decrypt: the service (keyring, current draft epoch), to answer the defender.
        conversation.chat_ct = self._cipher.seal(dek, "conversation", conversation.id, "chat", chat)

    def _text(self, turn: Turn, key: str) -> str:
        return self._catalog.text(self.language(turn), key)
