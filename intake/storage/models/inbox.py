"""The durable inbox of channels that cannot redeliver (Signal)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from intake.storage.models.core import Base
from intake.storage.types import UTCDateTime


class InboxMessage(Base):
    """A message a channel received, kept sealed before any other work (Signal).

    signal-cli lets go of a message once it has handed it over (see
    `bots.signal`), so the channel records it here first, then the core
    processes it. `digest` is a keyed pseudonym of the platform's message
    identity (sender and timestamp): a redelivery is recognised without
    storing who sent it. `payload_ct` (the neutral inbound message, file
    bytes included) lives until the core has answered; `answer_ct` (the
    replies) until they are sent; the row then stays as a bare digest until
    retention purges it. Until then its data key is wrapped under the keyring
    like any record's (`kek_version`: rewrap, retire and verify cover it). A
    row that does not open is set aside ("unreadable") rather than retried
    forever (`intake.core.inbox`).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "digest"),
        Index("ix_inbox_channel_state", "channel", "state", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64))
    pseudonym_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))  # pending | answered | unreadable | done
    dek_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    answer_ct: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
