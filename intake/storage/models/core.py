"""ORM models of the intake: missions, conversations, cases, keys, audit, deliveries, leases.

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
    BigInteger,
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

from intake.storage.types import UTCDateTime

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
    # Wrapped under a draft-epoch key (`draft_epoch`), re-wrapped at every step;
    # rows from before migration 0012 carry a KEK wrap until their next step.
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    draft_epoch: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    chat_ct: Mapped[bytes] = mapped_column(LargeBinary)
    state_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DuressMark(Base):
    """A sender (by keyed pseudonym) who typed the duress word, and when.

    Names no case and holds no conversation: it only lets the service refuse
    `/status` in that chat and flag a case whose officer is about to reply there.
    """

    __tablename__ = "duress_marks"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    sender_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Case(Base):
    """A submitted threat report or assistance request in a mission's queue."""

    __tablename__ = "cases"
    # The queue's orders: a mission's page, a mission filtered by state, everyone's page.
    __table_args__ = (
        Index("ix_cases_queue", "mission_id", "status", "urgency_rank", "submitted_at"),
        Index("ix_cases_mission_order", "mission_id", "urgency_rank", "submitted_at", "id"),
        Index("ix_cases_order", "urgency_rank", "submitted_at", "id"),
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
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The routed country (ISO 3166-1 alpha-2, never a city or region): a routing fact the
    # queue filters and the statistics count by. NULL for cases from before migration 0009
    # (their country is only inside the sealed payload).
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    # When the defender last answered and no officer has replied since: "answered" in the queue.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The server's copy of the data key: cleared once sealed at submission,
    # after which only mission officers and the recovery key can open the case.
    dek_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kek_version: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    """A file a defender sent.

    While the draft is open its data key is wrapped under the current draft-epoch
    key (`draft_epoch`); at submission the file is re-encrypted under a fresh key
    that goes into the case payload (so whoever can open the case can open its
    files), as a new row with no wrapped key, and the draft row is deleted.
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
    draft_epoch: Mapped[int | None] = mapped_column(Integer, index=True, nullable=True)
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


class RecoveryKey(Base):
    """The public half of the security staff's offline recovery key."""

    __tablename__ = "recovery_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Officer(Base):
    """A liaison officer: their public key, and their private key wrapped under their passphrase."""

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the current key pair was made (enrolment or `officers rotate-key`).
    key_created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # HMAC under the keyring over (kind, mission/officer, version, public key): see
    # `intake.keys.directory`. NULL: not authenticated (sealing to it is refused).
    key_mac: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class MissionKey(Base):
    """One version of a mission's key pair; its private half lives only in `KeySeal` rows."""

    __tablename__ = "mission_keys"

    mission_id: Mapped[str] = mapped_column(ForeignKey("missions.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # HMAC under the keyring (see `intake.keys.directory`); NULL: not authenticated.
    key_mac: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class KeySeal(Base):
    """A secret sealed (HPKE) to one recipient key.

    What is sealed: a case's or an event's data key (`record_type` "case" or
    "event") to a mission key or the recovery key; a mission private key
    (`record_type` "mission_key", `record_id` "<mission>/<version>") to an
    officer or the recovery key.
    """

    __tablename__ = "key_seals"

    record_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100), primary_key=True)
    recipient_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_key_seals_recipient", "recipient", "recipient_version"),)


class CaseEvent(Base):
    """A note, an officer's reply or a defender's answer on a case: content sealed like the case."""

    __tablename__ = "case_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)


class Delivery(Base):
    """A message waiting for a channel to deliver it (officer reply, officer notification).

    The body is sealed under the keyring because the bot must read it to
    send it; the row is deleted once delivered.
    """

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True
    )
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Claimed by a worker until then (it is sending it); claimable again after,
    # in case that worker died between claiming and `delivered`.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditEntry(Base):
    """One entry of the hash-chained audit log (no case content)."""

    __tablename__ = "audit_log"
    # A case's timeline reads its entries by subject.
    __table_args__ = (Index("ix_audit_log_subject", "subject", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class KeyUsage(Base):
    """How many encryptions a keyring key version has made (AES-GCM nonce budget).

    Only KEK wraps draw a random nonce under a long-lived key: field keys are
    derived per field, HPKE seals use one-time keys, pseudonyms are HMACs.
    Counted from the first use after migration 0004, which seeds it from the
    rows then on each version (a lower bound of what came before).
    """

    __tablename__ = "key_usage"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    encryptions: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Lease(Base):
    """Which process may consume a channel account (a bot token, a Matrix user) until when.

    `name` never holds the secret itself (a Telegram token appears as a hash).
    `generation` grows by one at every change of holder: a fencing token.
    """

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100), nullable=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelItem(Base):
    """One item of a channel's encryption store (Matrix: Olm account, sessions, room keys,
    devices), so a standby on another host takes over the account with its store.

    `item` is a keyed pseudonym of the item's own key (which names users, devices,
    rooms): the database lists how many items of each kind there are, not whose.
    The key itself and the value are inside `value_ct`, sealed under the keyring.
    """

    __tablename__ = "channel_items"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    item: Mapped[str] = mapped_column(String(64), primary_key=True)
    pseudonym_version: Mapped[int] = mapped_column(Integer)
    dek_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer, index=True)
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
