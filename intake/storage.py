"""Storage functions: each takes a session and does one thing.

The caller (the service, a CLI action) opens the transaction and commits or
rolls back once. SQL lives here and in `intake.queue` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.models import Attachment, Case, Conversation, ProcessedMessage


def message_seen(session: Session, channel: str, digests: Sequence[str]) -> bool:
    """Whether a platform message (any pseudonym version of its id) was already processed."""
    found = session.scalar(
        select(ProcessedMessage.digest)
        .where(ProcessedMessage.channel == channel, ProcessedMessage.digest.in_(digests))
        .limit(1)
    )
    return found is not None


def record_message(session: Session, channel: str, digest: str, now: datetime) -> None:
    """Mark a message processed; the primary key refuses a second record of it."""
    session.add(ProcessedMessage(channel=channel, digest=digest, received_at=now))
    session.flush()


def find_conversation(
    session: Session, channel: str, pseudonyms: Sequence[str]
) -> Conversation | None:
    return session.scalar(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.sender_pseudonym.in_(pseudonyms)
        )
    )


def draft_attachments(session: Session, conversation_id: str) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(
                Attachment.conversation_id == conversation_id, Attachment.case_id.is_(None)
            )
        )
    )


def delete_draft_attachments(
    session: Session, conversation_id: str, ids: Sequence[str] | None = None
) -> int:
    """Destroy a draft's files (rows and wrapped keys; SQLite overwrites them)."""
    statement = delete(Attachment).where(
        Attachment.conversation_id == conversation_id, Attachment.case_id.is_(None)
    )
    if ids is not None:
        statement = statement.where(Attachment.id.in_(ids))
    return session.execute(statement).rowcount or 0  # type: ignore[attr-defined]


def cases_by_reference(session: Session, references: Sequence[str]) -> list[Case]:
    if not references:
        return []
    return list(
        session.scalars(
            select(Case).where(Case.reference.in_(references)).order_by(Case.submitted_at)
        )
    )


def reference_taken(session: Session, reference: str) -> bool:
    return session.scalar(select(Case.id).where(Case.reference == reference)) is not None


def flag_cases(session: Session, references: Sequence[str], now: datetime) -> None:
    if references:
        session.execute(
            update(Case).where(Case.reference.in_(references)).values(flagged=True, updated_at=now)
        )
