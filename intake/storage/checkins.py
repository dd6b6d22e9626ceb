"""Queries of safety check-ins: the due ones (for one worker each), one conversation's, a mission's.

Exactly once across workers: a due check-in is acted on in the transaction
that changes its state. On PostgreSQL the due rows are locked with
`FOR UPDATE SKIP LOCKED`, so concurrent workers take different rows and
never wait for each other; on SQLite the transaction takes the database's
write lock before it reads (a no-op UPDATE), so a second worker waits and
then sees the first one's changes instead of acting on a stale read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from intake.storage.models import Case, Checkin, Conversation

# States a check-in row can be in; a stopped or finished check-in is deleted.
SCHEDULED = "scheduled"  # waiting for due_at to ask
PROMPTED = "prompted"  # asked; missed if still unanswered at due_at
MISSED = "missed"  # alert raised; waiting for a late check-in (due_at is NULL)
ACTING = (SCHEDULED, PROMPTED)


def _take_write_lock(session: Session) -> None:
    """SQLite: make this transaction the writer now (waits up to busy_timeout)."""
    if session.connection().dialect.name == "sqlite":
        session.execute(
            update(Checkin)
            .where(Checkin.id.is_(None))
            .values(generation=Checkin.generation)
            .execution_options(synchronize_session=False)
        )


def due_checkins(session: Session, now: datetime, limit: int) -> list[Checkin]:
    """Up to `limit` check-ins due by `now`, oldest first, locked for this transaction."""
    _take_write_lock(session)
    return list(
        session.scalars(
            select(Checkin)
            .where(Checkin.state.in_(ACTING), Checkin.due_at <= now)
            .order_by(Checkin.due_at, Checkin.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def load_conversations(session: Session, ids: Sequence[str]) -> None:
    """Load these conversations into the session at once (`session.get` then finds them)."""
    if ids:
        list(session.scalars(select(Conversation).where(Conversation.id.in_(list(ids)))))


def load_cases(session: Session, ids: Sequence[str]) -> None:
    """Load these cases (those that exist) into the session at once."""
    if ids:
        list(session.scalars(select(Case).where(Case.id.in_(list(ids)))))


def checkin_of_conversation(session: Session, conversation_id: str) -> Checkin | None:
    """The conversation's check-in, locked (a worker acting on it finishes first)."""
    _take_write_lock(session)
    return session.scalar(
        select(Checkin).where(Checkin.conversation_id == conversation_id).with_for_update()
    )


def has_checkin(session: Session, conversation_id: str) -> bool:
    found = session.scalar(select(Checkin.id).where(Checkin.conversation_id == conversation_id))
    return found is not None


def delete_checkin(session: Session, checkin: Checkin) -> None:
    """Forget a check-in: its sealed details and word digests go with the row."""
    session.delete(checkin)
    session.flush()


def case_by_id(session: Session, case_id: str) -> Case | None:
    return session.get(Case, case_id)


@dataclass(frozen=True)
class CheckinListing:
    """What officers see of a running check-in: metadata only."""

    id: str
    mission_id: str
    channel: str
    state: str
    mode: str
    interval_minutes: int | None
    due_at: datetime | None
    started_at: datetime
    updated_at: datetime


def list_checkins(session: Session, missions: Sequence[str] | None = None) -> list[CheckinListing]:
    """Running check-ins (of `missions`, or all), those needing attention first, then by due time."""
    query = select(
        Checkin.id,
        Checkin.mission_id,
        Checkin.channel,
        Checkin.state,
        Checkin.mode,
        Checkin.interval_minutes,
        Checkin.due_at,
        Checkin.started_at,
        Checkin.updated_at,
    )
    if missions is not None:
        query = query.where(Checkin.mission_id.in_(list(missions)))
    rows = session.execute(query.order_by(Checkin.due_at.is_not(None), Checkin.due_at, Checkin.id))
    return [CheckinListing(**row._asdict()) for row in rows]


def count_checkins(session: Session) -> dict[tuple[str, str], int]:
    """Running check-ins per (mission, state), for /metrics."""
    rows = session.execute(
        select(Checkin.mission_id, Checkin.state, func.count()).group_by(
            Checkin.mission_id, Checkin.state
        )
    )
    return {(mission, state): int(count) for mission, state, count in rows}
