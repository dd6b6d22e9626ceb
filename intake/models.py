"""ORM models.

What is plaintext here is only what routing and queue ordering need
(mission, kind, urgency, status, times, case reference). Everything a
defender wrote, their platform identity, chat and contact handle are in
`*_ct` columns (envelope ciphertext, see `crypto.envelope`); platform
identities are found by keyed pseudonym, never stored raw. `dek_wrapped`
is the record's data key wrapped under a keyring version (`kek_version`,
kept as a column so rotation can find the rows still on an old version).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from intake.dbtypes import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Mission(Base):
    """An EU Delegation, a Member State embassy, or a headquarters/fund queue."""

    __tablename__ = "missions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessedMessage(Base):
    """A platform message already handled: makes processing idempotent.

    `digest` is a keyed pseudonym of (channel, platform message id), so the
    table cannot be joined against a seized platform log.
    """

    __tablename__ = "processed_messages"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Conversation(Base):
    """One defender on one channel: their draft and what the bot needs to answer them."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_pseudonym"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    sender_pseudonym: Mapped[str] = mapped_column(String(64))
    pseudonym_version: Mapped[int] = mapped_column(Integer)
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    chat_ct: Mapped[bytes] = mapped_column(LargeBinary)
    state_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Case(Base):
    """A submitted threat report or assistance request in a mission's queue."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "mission_id", "status", "urgency_rank", "submitted_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id"))
    kind: Mapped[str] = mapped_column(String(40))
    urgency: Mapped[str] = mapped_column(String(20))
    # 0 = most urgent: lets the queue sort urgent cases first in SQL.
    urgency_rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="new")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    """A file a defender sent.

    While the draft is open its data key is wrapped under the keyring; at
    submission the key moves into the case payload (so whoever can open the
    case can open its files) and `dek_wrapped` is cleared.
    """

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[str | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), index=True
    )
    dek_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int | None] = mapped_column(Integer, index=True)
    meta_ct: Mapped[bytes] = mapped_column(LargeBinary)
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelState(Base):
    """Small secrets and cursors a channel keeps between runs (Matrix session, sync token).

    Values are sealed under the keyring like every other record.
    """

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
