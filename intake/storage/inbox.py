"""The inbox's queries (the only SQL of `intake.inbox`); each takes the caller's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from intake.storage.models import InboxMessage

# What an inbox row's data key and fields are bound to (`crypto.Binding`).
RECORD_TYPE = "inbox"
PENDING, ANSWERED, DONE = "pending", "answered", "done"


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
