"""The inbox's queries (the only SQL of `intake.inbox`); each takes the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from intake.storage.models import InboxMessage

# What an inbox row's data key and fields are bound to (`crypto.Binding`).
RECORD_TYPE = "inbox"
PENDING, ANSWERED, DONE = "pending", "answered", "done"
# Did not open (tampered, its key gone): set aside whole, ciphertext and wrapped key
# kept, so it blocks nothing and `keys verify` names it; retried at the channel's next
# session (`requeue_set_aside`), back to pending or answered by what it holds.
UNREADABLE = "unreadable"


def digests_present(session: Session, channel: str, digests: Sequence[str]) -> set[str]:
    """Which of these message digests the inbox already holds (any state)."""
    if not digests:
        return set()
    return set(
        session.scalars(
            select(InboxMessage.digest).where(
                InboxMessage.channel == channel, InboxMessage.digest.in_(list(digests))
            )
        )
    )


def add_message(session: Session, row: InboxMessage) -> None:
    session.add(row)


def messages_in_state(session: Session, channel: str, state: str, limit: int) -> list[InboxMessage]:
    """Oldest first: the order the platform handed them over."""
    return list(
        session.scalars(
            select(InboxMessage)
            .where(InboxMessage.channel == channel, InboxMessage.state == state)
            .order_by(InboxMessage.received_at, InboxMessage.id)
            .limit(limit)
        )
    )


def set_aside(session: Session, row_id: str, state: str) -> bool:
    """Set a row that did not open aside, if it is still in `state`; False when it moved on."""
    result = session.execute(
        update(InboxMessage)
        .where(InboxMessage.id == row_id, InboxMessage.state == state)
        .values(state=UNREADABLE)
    )
    return bool(getattr(result, "rowcount", 0))


def requeue_set_aside(session: Session, channel: str) -> int:
    """Give rows set aside another try: pending while they hold the message, else answered."""
    result = session.execute(
        update(InboxMessage)
        .where(
            InboxMessage.channel == channel,
            InboxMessage.state == UNREADABLE,
            InboxMessage.dek_wrapped.is_not(None),
            InboxMessage.payload_ct.is_not(None) | InboxMessage.answer_ct.is_not(None),
        )
        .values(state=case((InboxMessage.payload_ct.is_not(None), PENDING), else_=ANSWERED))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def count_set_aside_by_channel(session: Session) -> dict[str, int]:
    """Channel -> rows set aside as unreadable (channels with none absent)."""
    rows = session.execute(
        select(InboxMessage.channel, func.count())
        .where(InboxMessage.state == UNREADABLE)
        .group_by(InboxMessage.channel)
    )
    return {channel: int(count) for channel, count in rows}


@dataclass(frozen=True, slots=True)
class SetAside:
    """A row set aside as unreadable: which, where, and its wrapped data key (if any)."""

    id: str
    channel: str
    dek_wrapped: bytes | None


def set_aside_rows(session: Session) -> list[SetAside]:
    """Every row set aside as unreadable, by id (a handful: each is an alarm)."""
    rows = session.execute(
        select(InboxMessage.id, InboxMessage.channel, InboxMessage.dek_wrapped)
        .where(InboxMessage.state == UNREADABLE)
        .order_by(InboxMessage.id)
    )
    return [SetAside(row.id, row.channel, row.dek_wrapped) for row in rows]


def delete_set_aside(session: Session, ids: Sequence[str]) -> int:
    """Delete these rows if they are still set aside; how many went."""
    if not ids:
        return 0
    result = session.execute(
        delete(InboxMessage).where(InboxMessage.id.in_(list(ids)), InboxMessage.state == UNREADABLE)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_done(session: Session, ids: Sequence[str]) -> None:
    """Sent: keep only the digest (the payload went when the core answered)."""
    if ids:
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.id.in_(list(ids)))
            .values(state=DONE, answer_ct=None, payload_ct=None, dek_wrapped=None, kek_version=None)
        )


def purge_done_before(session: Session, before: datetime, dry_run: bool = False) -> int:
    """Forget (or, with `dry_run`, count) digests of every channel's messages done before `before`."""
    old = (InboxMessage.state == DONE) & (InboxMessage.received_at < before)
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(InboxMessage).where(old)) or 0)
    return int(getattr(session.execute(delete(InboxMessage).where(old)), "rowcount", 0) or 0)
