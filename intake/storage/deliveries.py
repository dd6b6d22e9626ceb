"""Messages waiting for a channel: officers' replies to defenders, officer notifications.

A delivery is sealed under the keyring (the bot must read it to send it)
and deleted once sent. A worker claims deliveries for a while
(`claimed_until`) before sending them, so several workers never send the
same delivery twice; one that dies while sending leaves its claim to lapse.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.messages import PendingDelivery
from intake.storage.models import Conversation, Delivery
from intake.storage.records import RecordCipher, new_record_id

# How long a claimed delivery is left to its worker before another may send it.
CLAIM_HOLD = timedelta(minutes=2)


def queue_delivery(
    session: Session,
    cipher: RecordCipher,
    *,
    channel: str,
    kind: str,
    chat: str,
    text: str,
    conversation_id: str | None,
    now: datetime,
) -> str:
    delivery_id = new_record_id()
    dek, wrapped, version = cipher.new_key("delivery", delivery_id)
    session.add(
        Delivery(
            id=delivery_id,
            channel=channel,
            kind=kind,
            conversation_id=conversation_id,
            dek_wrapped=wrapped,
            kek_version=version,
            # Who can decrypt: the service (keyring), until it is delivered and deleted.
            body_ct=cipher.seal_json(
                dek, "delivery", delivery_id, "body", {"chat": chat, "text": text}
            ),
            attempts=0,
            created_at=now,
        )
    )
    return delivery_id


def claim_deliveries(
    session: Session,
    cipher: RecordCipher,
    channel: str,
    now: datetime,
    limit: int = 50,
    hold: timedelta = CLAIM_HOLD,
    max_attempts: int | None = None,
) -> list[PendingDelivery]:
    """Claim and open up to `limit` deliveries for a channel, oldest first.

    Each is marked claimed until `now + hold`: other workers skip it while
    this one sends it (and `forget_deliveries` deletes it). If this worker
    dies first, the claim lapses and another worker sends it (at least once).
    On PostgreSQL the candidates are row-locked with SKIP LOCKED, so workers
    claiming at the same moment take different rows instead of waiting; the
    UPDATE repeats the condition, which is what keeps SQLite (no row locks)
    exact too. Rows claimed `max_attempts` times already are kept but no
    longer claimed (a channel gave up on them), so they hold up nothing.
    """
    claimable = Delivery.claimed_until.is_(None) | (Delivery.claimed_until <= now)
    if max_attempts is not None:
        claimable = claimable & (Delivery.attempts < max_attempts)
    candidates = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.channel == channel, claimable)
            .order_by(Delivery.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        return []
    claimed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(candidates), claimable)
        .values(claimed_until=now + hold, attempts=Delivery.attempts + 1)
        .returning(
            Delivery.id,
            Delivery.kind,
            Delivery.conversation_id,
            Delivery.dek_wrapped,
            Delivery.body_ct,
            Delivery.created_at,
            Delivery.attempts,
        )
        .execution_options(synchronize_session=False)
    ).all()
    pending = []
    for row in sorted(claimed, key=lambda r: (r.created_at, r.id)):
        dek = cipher.open_key("delivery", row.id, row.dek_wrapped)
        body = cipher.open_json(dek, "delivery", row.id, "body", row.body_ct)
        pending.append(
            PendingDelivery(
                row.id,
                channel,
                row.kind,
                body["chat"],
                body["text"],
                row.conversation_id,
                row.attempts,
            )
        )
    return pending


def release_deliveries(session: Session, ids: list[str]) -> None:
    """Give claimed deliveries back unsent: claimable again at once."""
    if ids:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )


def forget_deliveries(session: Session, ids: list[str]) -> None:
    if ids:
        session.execute(delete(Delivery).where(Delivery.id.in_(ids)))


def conversation_chat(
    session: Session, cipher: RecordCipher, conversation_id: str
) -> tuple[str, str]:
    """(channel, chat) of a conversation, to address a reply to it."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError("the defender's conversation no longer exists (deleted or purged)")
    dek = cipher.open_key("conversation", conversation.id, conversation.dek_wrapped)
    chat = cipher.open(dek, "conversation", conversation.id, "chat", conversation.chat_ct)
    return conversation.channel, chat.decode("utf-8")
