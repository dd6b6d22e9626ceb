"""Conversations and their messages: claiming a platform message, finding a defender, drafts.

Each function takes a session and does one thing; the caller (the service, a
CLI action) opens the transaction and commits or rolls back once. Queries of
other topics live in the sibling modules (`cases`, `seals`, `purge`...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from intake.storage.models import Attachment, Case, Conversation, DuressMark, ProcessedMessage


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
# Locked and read afresh, even if this session loaded the row before (for a
# repeated prompt, say): see `conversation_to_update`.
_FIND_CONVERSATION_FOR_UPDATE = _FIND_CONVERSATION.with_for_update().execution_options(
    populate_existing=True
)
_LOCKED = "intake.storage.locked_conversations"
# SQLite has no row locks, and Python's driver opens the transaction only at its
# first write: a write that changes nothing takes the database's write lock, so
# that nobody commits between our read and our write.
_SQLITE_WRITE_LOCK = text("UPDATE conversations SET channel = channel WHERE 0")


def _held(session: Session) -> dict[tuple[str, str], Conversation]:
    """The conversations this transaction locked or created, by (channel, pseudonym).

    Kept beside the transaction it belongs to: a session used for a second
    transaction starts with none held (its locks ended with the first).
    """
    session.connection()  # begins the transaction, if nothing has yet
    transaction = session.get_transaction()
    kept = session.info.get(_LOCKED)
    if kept is None or kept[0] is not transaction:
        kept = session.info[_LOCKED] = (transaction, {})
    held: dict[tuple[str, str], Conversation] = kept[1]
    return held


def _lock_for_update(session: Session) -> None:
    """Before a read this transaction will write back (FOR UPDATE does it on PostgreSQL)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    # A transaction is open only once something was written (the message's claim,
    # usually): then this connection holds the write lock already.
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.execute(_SQLITE_WRITE_LOCK)


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


def conversation_to_update(
    session: Session, channel: str, pseudonyms: Sequence[str]
) -> Conversation | None:
    """The sender's conversation as last committed, locked until the transaction ends.

    Two processes may hold consecutive messages of one defender at once (a
    lease takeover overlaps them for a moment). Without the lock the later
    message would apply itself to the state before the earlier one's answer,
    and whichever committed last would erase the other's. On PostgreSQL the
    row lock makes the later one wait, then read the committed state; on
    SQLite the database's write lock does (`_lock_for_update`).

    Once this transaction holds the lock, its own copy is the newest (with the
    changes of earlier messages of the batch, unflushed): it is returned as is.
    """
    held = _held(session)
    for digest in pseudonyms:
        conversation = held.get((channel, digest))
        if conversation is not None and conversation in session:  # not deleted meanwhile
            return conversation
    # Every conversation this transaction changes is held (locked here, or
    # created by `add_conversation`), so the fresh read overwrites no change.
    _lock_for_update(session)
    conversation = session.scalar(
        _FIND_CONVERSATION_FOR_UPDATE, {"channel": channel, "pseudonyms": list(pseudonyms)}
    )
    if conversation is not None:
        held.update({(channel, digest): conversation for digest in pseudonyms})
    return conversation


def conversation_by_id_to_update(session: Session, conversation_id: str) -> Conversation | None:
    """`conversation_to_update` for a conversation known by its id."""
    held = _held(session)
    for conversation in held.values():
        if conversation.id == conversation_id and conversation in session:
            return conversation
    _lock_for_update(session)
    found = session.get(Conversation, conversation_id, with_for_update=True, populate_existing=True)
    if found is not None:
        held[(found.channel, found.sender_pseudonym)] = found
    return found


def add_conversation(session: Session, conversation: Conversation) -> None:
    """A new conversation, written at once (later queries of the batch must see it)."""
    session.add(conversation)
    session.flush()
    _held(session)[(conversation.channel, conversation.sender_pseudonym)] = conversation


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


def draft_files_off_epoch(session: Session, conversation_id: str, epoch: int) -> list[Attachment]:
    """A draft's files whose key is not wrapped under `epoch` (to re-wrap them)."""
    return list(
        session.scalars(
            select(Attachment).where(
                Attachment.conversation_id == conversation_id,
                Attachment.case_id.is_(None),
                Attachment.draft_epoch.is_distinct_from(epoch),
            )
        )
    )


def delete_conversation(session: Session, conversation_id: str) -> None:
    """Destroy a conversation record and its draft files (the keys are in these rows)."""
    delete_draft_attachments(session, conversation_id)
    session.execute(delete(Conversation).where(Conversation.id == conversation_id))


def case_by_reference(session: Session, reference: str) -> Case | None:
    return session.scalar(select(Case).where(Case.reference == reference))


def overwrite_and_delete_attachment(session: Session, attachment_id: str) -> None:
    """Zero a file's ciphertexts in place, then delete the row.

    SQLite (secure_delete) zeroes deleted cells anyway; the UPDATE first means
    no committed page of this transaction holds the old bytes either.
    PostgreSQL keeps the old tuple until VACUUM whatever we do (README).
    """
    session.execute(
        update(Attachment)
        .where(Attachment.id == attachment_id)
        .values(
            meta_ct=func.zeroblob(func.length(Attachment.meta_ct))
            if session.get_bind().dialect.name == "sqlite"
            else b"",
            data_ct=func.zeroblob(func.length(Attachment.data_ct))
            if session.get_bind().dialect.name == "sqlite"
            else b"",
            dek_wrapped=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Attachment).where(Attachment.id == attachment_id))


def delete_drafts_before_epoch(session: Session, epoch: int) -> tuple[int, int]:
    """Rows wrapped under draft epochs older than `epoch` (keys destroyed): (conversations, files)."""
    files = session.execute(
        delete(Attachment).where(Attachment.case_id.is_(None), Attachment.draft_epoch < epoch)
    )
    conversations = session.execute(delete(Conversation).where(Conversation.draft_epoch < epoch))
    return int(conversations.rowcount or 0), int(files.rowcount or 0)  # type: ignore[attr-defined]


def reference_taken(session: Session, reference: str) -> bool:
    return session.scalar(select(Case.id).where(Case.reference == reference)) is not None


def flag_cases(session: Session, references: Sequence[str], now: datetime) -> None:
    if references:
        session.execute(
            update(Case).where(Case.reference.in_(references)).values(flagged=True, updated_at=now)
        )


def mark_duress(session: Session, channel: str, pseudonym: str, now: datetime) -> None:
    """Remember (by pseudonym only) that this sender typed the duress word."""
    if session.get(DuressMark, (channel, pseudonym)) is None:
        session.add(DuressMark(channel=channel, sender_pseudonym=pseudonym, marked_at=now))
        session.flush()


def duress_marked(session: Session, channel: str, pseudonyms: Sequence[str]) -> bool:
    """Whether a sender (any pseudonym version) typed the duress word."""
    found = session.scalar(
        select(DuressMark.channel)
        .where(DuressMark.channel == channel, DuressMark.sender_pseudonym.in_(list(pseudonyms)))
        .limit(1)
    )
    return found is not None
