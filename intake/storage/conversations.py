"""Conversations and their messages: claiming a platform message, finding a defender, drafts.

Each function takes a session and does one thing; the caller (the service, a
CLI action) opens the transaction and commits or rolls back once. Queries of
other topics live in the sibling modules (`cases`, `seals`, `purge`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from intake.storage.models import Attachment, Case, Conversation, ProcessedMessage


def message_seen(session: Session, channel: str, digests: Sequence[str]) -> bool:
    """Whether a platform message (any pseudonym version of its id) was already processed."""
    found = session.scalar(
        select(ProcessedMessage.digest)
        .where(ProcessedMessage.channel == channel, ProcessedMessage.digest.in_(digests))
        .limit(1)
    )
    return found is not None


_CLAIM_VALUES: dict[str, Any] = {
    "channel": bindparam("channel"),
    "digest": bindparam("digest"),
    "received_at": bindparam("received_at"),
}
# Built once: statement construction costs more than executing it on SQLite.
# RETURNING says whether the row went in: the driver's rowcount does not (psycopg
# reports -1 for these inserts, which would make every redelivery look new).
_CLAIM = {
    "postgresql": pg_insert(ProcessedMessage)
    .values(_CLAIM_VALUES)
    .on_conflict_do_nothing()
    .returning(ProcessedMessage.digest),
    "sqlite": sqlite_insert(ProcessedMessage)
    .values(_CLAIM_VALUES)
    .on_conflict_do_nothing()
    .returning(ProcessedMessage.digest),
}
_FIND_CONVERSATION = select(Conversation).where(
    Conversation.channel == bindparam("channel"),
    Conversation.sender_pseudonym.in_(bindparam("pseudonyms", expanding=True)),
)


def claim_message(session: Session, channel: str, digest: str, now: datetime) -> bool:
    """Record a message as processed; False when it already was (by this digest).

    One `INSERT ... ON CONFLICT DO NOTHING`: concurrent workers cannot both
    claim a message, and no separate lookup is needed.
    """
    params = {"channel": channel, "digest": digest, "received_at": now}
    connection = session.connection()
    statement = _CLAIM.get(connection.dialect.name)
    if statement is None:
        if message_seen(session, channel, [digest]):
            return False
        connection.execute(insert(ProcessedMessage), params)
        return True
    return connection.execute(statement, params).first() is not None


def find_conversation(
    session: Session, channel: str, pseudonyms: Sequence[str]
) -> Conversation | None:
    return session.scalar(_FIND_CONVERSATION, {"channel": channel, "pseudonyms": list(pseudonyms)})


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
