"""Messages waiting for a channel: officers' replies to defenders, officer notifications.

A delivery is sealed under the keyring (the bot must read it to send it)
and deleted once sent. Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL
so several workers never send the same delivery twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.models import Conversation, Delivery
from intake.records import RecordCipher, new_record_id


@dataclass(frozen=True)
class PendingDelivery:
    id: str
    channel: str
    kind: str
    chat: str
    text: str
    conversation_id: str | None


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
    session: Session, cipher: RecordCipher, channel: str, limit: int = 50
) -> list[PendingDelivery]:
    """Lock and open up to `limit` deliveries for a channel (others' locked rows are skipped)."""
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.channel == channel)
        .order_by(Delivery.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    pending = []
    for row in rows:
        dek = cipher.open_key("delivery", row.id, row.dek_wrapped)
        body = cipher.open_json(dek, "delivery", row.id, "body", row.body_ct)
        row.attempts += 1
        pending.append(
            PendingDelivery(
                row.id, row.channel, row.kind, body["chat"], body["text"], row.conversation_id
            )
        )
    return pending


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
