"""What retention reads and deletes (`intake.keys.retention` decides what goes).

A case is expired once closed and not updated since before the cutoff.
Every delete here is conditional on what the caller read (still expired,
last seen at the same time), so a purge beside the service leaves alone a
case reopened or a defender who wrote again meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, func, select, update
from sqlalchemy.orm import Session

from intake.storage.models import Attachment, Case, CaseEvent, Conversation, ProcessedMessage


def _expired(closed_before: datetime) -> ColumnElement[bool]:
    return (Case.status == "closed") & (Case.updated_at < closed_before)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def expired_case_ids(
    session: Session, closed_before: datetime, after: str, limit: int
) -> list[str]:
    """Ids of expired cases greater than `after`, ascending, at most `limit`."""
    return list(
        session.scalars(
            select(Case.id)
            .where(_expired(closed_before))
            .order_by(Case.id)
            .where(Case.id > after)
            .limit(limit)
        )
    )


def delete_expired_cases(
    session: Session, case_ids: Sequence[str], closed_before: datetime
) -> list[str]:
    """Delete those of `case_ids` still expired now; returns the ids deleted."""
    return list(
        session.scalars(
            delete(Case).where(Case.id.in_(case_ids), _expired(closed_before)).returning(Case.id)
        )
    )


def count_attachments_of_cases(session: Session, case_ids: Sequence[str]) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(
                select(Attachment.id).where(Attachment.case_id.in_(case_ids)).subquery()
            )
        )
        or 0
    )


def delete_events_of_cases(session: Session, case_ids: Sequence[str]) -> None:
    session.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(case_ids)))


def delete_attachments_of_cases(session: Session, case_ids: Sequence[str]) -> None:
    session.execute(delete(Attachment).where(Attachment.case_id.in_(case_ids)))


def count_unexpired_cases(
    session: Session, references: Sequence[str], closed_before: datetime
) -> int:
    """How many of the cases with these references are not expired."""
    return int(
        session.scalar(
            select(func.count()).select_from(
                select(Case.id)
                .where(Case.reference.in_(references), ~_expired(closed_before))
                .subquery()
            )
        )
        or 0
    )


def idle_conversation_ids(
    session: Session, seen_before: datetime, after: str, limit: int
) -> list[str]:
    """Ids of conversations last seen before `seen_before`, greater than `after`, ascending."""
    return list(
        session.scalars(
            select(Conversation.id)
            .where(Conversation.last_seen_at < seen_before)
            .order_by(Conversation.id)
            .where(Conversation.id > after)
            .limit(limit)
        )
    )


def count_draft_attachments(session: Session, conversation_id: str) -> int:
    """Files of the conversation's draft (not yet part of a case)."""
    return int(
        session.scalar(
            select(func.count()).select_from(
                select(Attachment.id)
                .where(Attachment.conversation_id == conversation_id, Attachment.case_id.is_(None))
                .subquery()
            )
        )
        or 0
    )


def delete_conversation_if_unchanged(
    session: Session, conversation_id: str, last_seen_at: datetime
) -> bool:
    """Delete the conversation unless the defender wrote since `last_seen_at`; True if gone.

    Its files and queued messages go with it (ON DELETE CASCADE; files also
    explicitly, for databases that do not cascade).
    """
    same = (Conversation.id == conversation_id) & (Conversation.last_seen_at == last_seen_at)
    if not _rowcount(session.execute(delete(Conversation).where(same))):
        return False
    session.execute(delete(Attachment).where(Attachment.conversation_id == conversation_id))
    return True


def replace_state_if_unchanged(
    session: Session, conversation_id: str, last_seen_at: datetime, state_ct: bytes
) -> bool:
    """Replace the sealed flow state unless the defender wrote since `last_seen_at`."""
    same = (Conversation.id == conversation_id) & (Conversation.last_seen_at == last_seen_at)
    return bool(
        _rowcount(session.execute(update(Conversation).where(same).values(state_ct=state_ct)))
    )


def delete_processed_messages_before(session: Session, cutoff: datetime) -> int:
    """Forget digests of platform messages received before `cutoff`; returns how many."""
    return _rowcount(
        session.execute(delete(ProcessedMessage).where(ProcessedMessage.received_at < cutoff))
    )


def checkpoint_wal(engine: Engine) -> bool:
    """Fold SQLite's write-ahead log into the file and truncate it (other databases: True).

    Returns False when a reader kept part of the log in use.
    """
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    return not busy
