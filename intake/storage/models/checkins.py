"""Safety check-ins: the schedule and what to raise when a defender goes silent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from intake.storage.models.core import Base
from intake.storage.types import UTCDateTime


class Checkin(Base):
    """A defender's safety check-in: when to ask them next, and what to raise if they go silent.

    Plaintext (the scheduler and the officers' view need it): mission, state,
    mode, interval, due time, times, and which conversation to ask. Sealed:
    - `link_ct` under the keyring (the service reads it): the reserved case
      id and reference of the alert, the defender's language;
    - `case_payload_ct` under the alert case's own data key, which exists only
      sealed to the mission and the recovery key (`case_seals`, HPKE): where
      the defender went and whom to alert; the server cannot read it;
    - the two words exist only as Argon2id digests with a keyring pepper.
    `generation` grows at every change of state, so two writers never both act.
    """

    __tablename__ = "checkins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    channel: Mapped[str] = mapped_column(String(20))
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id"), index=True)
    # scheduled (waiting for due_at), prompted (asked; missed at due_at), missed (alert raised)
    state: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(10))  # interval | deadline
    interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    generation: Mapped[int] = mapped_column(Integer, default=0)
    word_salt: Mapped[bytes] = mapped_column(LargeBinary)
    word_params: Mapped[dict[str, int]] = mapped_column(JSON)
    word_digest: Mapped[bytes] = mapped_column(LargeBinary)
    duress_digest: Mapped[bytes] = mapped_column(LargeBinary)
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    link_ct: Mapped[bytes] = mapped_column(LargeBinary)
    case_payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    case_seals: Mapped[bytes] = mapped_column(LargeBinary)
    # Only when no recovery key existed at the start: the alert case's key under the keyring.
    case_dek_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
