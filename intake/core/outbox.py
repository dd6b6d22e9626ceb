"""What the bot sends besides answers: officers' replies and notifications, and wipe traces.

Part of the conversation service (its base class), split by concept: the
service answers messages, this sends what waits in the outbox.

An officer's reply is addressed from the case's sealed return address (only
whoever opens the case reads it), so the delivery row holds the chat, the
sender and the reference sealed under the keyring, and no conversation id;
it is deleted once sent. Only then does the defender's conversation learn,
sealed in its record, the one reference whose reply awaits an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake.core.drafts import Drafts
from intake.messages import Inbound, PendingDelivery
from intake.storage.conversation_record import open_turn
from intake.storage.conversations import conversation_by_id_to_update
from intake.storage.deliveries import (
    claim_deliveries,
    forget_deliveries,
    release_deliveries,
)
from intake.storage.records import RecordCipher


class Outbox:
    """Deliveries and sent-message traces (mixed into `ConversationService`)."""

    _sessions: sessionmaker[Session]
    _cipher: RecordCipher
    _clock: Callable[[], datetime]
    _drafts: Drafts

    def language_of(self, channel: str, sender: str) -> str | None:
        """The language a sender's conversation speaks, for a channel's own notices.

        None when there is no conversation (or it no longer opens), or when the
        database does not answer: the notice then goes out in the default language.
        """
        try:
            with self._sessions() as session:
                turn = self._drafts.peek(session, channel, sender)
                return None if turn is None else self._drafts.language(turn)
        except SQLAlchemyError:
            return None

    def record_sent(self, channel: str, sender: str, message_ids: Sequence[str]) -> None:
        """Remember (encrypted) the ids of messages the bot sent, to delete them later."""
        self.record_sent_many(channel, {sender: message_ids})

    def record_sent_many(self, channel: str, sent: Mapping[str, Sequence[str]]) -> None:
        """`record_sent` for several senders in one transaction (a channel's whole batch)."""
        sent = {sender: ids for sender, ids in sent.items() if ids}
        if not sent:
            return
        with self._sessions.begin() as session:
            self.record_sent_in(session, channel, sent)

    def record_sent_in(
        self, session: Session, channel: str, sent: Mapping[str, Sequence[str]]
    ) -> None:
        """`record_sent_many` inside the caller's transaction (the inbox's, on Signal)."""
        for sender, message_ids in sent.items():
            if not message_ids:
                continue
            turn = self._drafts.open(session, channel, sender)
            if turn is None:
                continue
            turn.record["trace"].extend(message_ids)
            self._drafts.save(session, turn)

    def claim_deliveries(
        self, channel: str, limit: int = 50, max_attempts: int | None = None
    ) -> list[PendingDelivery]:
        """Messages for this channel to send (officer replies, notifications).

        Call `delivered` for each once sent, `release` for those not sent;
        a claim lapses after `intake.storage.deliveries.CLAIM_HOLD` (at least once: a
        crash between sending and `delivered` repeats one, after the hold).
        Deliveries claimed `max_attempts` times already are left alone (kept).
        """
        with self._sessions.begin() as session:
            return claim_deliveries(
                session, self._cipher, channel, self._clock(), limit, max_attempts=max_attempts
            )

    def release(self, deliveries: Sequence[PendingDelivery]) -> None:
        """Give back claimed deliveries this worker will not send (another may, at once)."""
        with self._sessions.begin() as session:
            release_deliveries(session, [delivery.id for delivery in deliveries])

    def delivered(self, delivery: PendingDelivery, sent_message_ids: Sequence[str] = ()) -> None:
        """Forget a sent delivery; a reply makes the conversation await the defender's answer."""
        with self._sessions.begin() as session:
            forget_deliveries(session, [delivery.id])
            if delivery.sender is not None and delivery.reference is not None:
                self._await_answer(session, delivery, sent_message_ids)
            elif delivery.conversation_id and sent_message_ids:
                # A reply queued before return addresses (addressed by conversation id).
                conversation = conversation_by_id_to_update(session, delivery.conversation_id)
                if conversation is not None:
                    turn = open_turn(self._cipher, conversation)
                    turn.record["trace"].extend(sent_message_ids)
                    self._drafts.save(session, turn)

    def _await_answer(
        self, session: Session, delivery: PendingDelivery, sent_message_ids: Sequence[str]
    ) -> None:
        assert delivery.sender is not None  # noqa: S101 - checked by the caller
        turn = self._drafts.open(session, delivery.channel, delivery.sender)
        if turn is None:
            # Destroyed (/delete, duress) or past its window: a fresh record, so the
            # defender's answer still finds its officer.
            stale = self._drafts.find(session, delivery.channel, delivery.sender)
            if stale is not None:
                session.delete(stale)
                session.flush()
            message = Inbound(
                channel=delivery.channel,
                sender=delivery.sender,
                chat=delivery.chat,
                message_id="",
                language=delivery.language,
            )
            pseudonym = self._cipher.pseudonym(f"sender:{delivery.channel}", delivery.sender)
            turn = self._drafts.new(session, message, pseudonym, self._clock(), notices=False)
        turn.record["reply_to"] = delivery.reference
        turn.record["trace"].extend(sent_message_ids)
        self._drafts.save(session, turn)
