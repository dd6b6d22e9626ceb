"""Rows written straight into a migrated database, for the storage contract suite.

Storage moves ciphertext and never decides who reads it, so these rows carry
placeholder bytes where the service would put ciphertext: each test states
the plaintext columns it relies on and nothing more. Each row is flushed at
once (the models declare no relationships, so the unit of work would not
order a mission before its cases).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from intake.storage.models import (
    Attachment,
    Base,
    Case,
    CaseEvent,
    ChannelState,
    Conversation,
    Delivery,
    KeySeal,
    Mission,
    MissionKey,
    Officer,
    ProcessedMessage,
    RecoveryKey,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BLOB = b"ciphertext"


def _put(session: Session, row: Base) -> None:
    session.add(row)
    session.flush()


def mission(session: Session, mission_id: str, kind: str = "delegation", **extra: object) -> None:
    values: dict[str, object] = {
        "name": mission_id.upper(),
        "kind": kind,
        "countries": [],
        "languages": [],
        "updated_at": T0,
    }
    values.update(extra)
    _put(session, Mission(id=mission_id, **values))


def case(
    session: Session,
    case_id: str,
    mission_id: str,
    *,
    reference: str | None = None,
    status: str = "new",
    kind: str = "threat",
    urgency_rank: int = 2,
    submitted_at: datetime = T0,
    updated_at: datetime = T0,
    sealed: bool = True,
    claimed_by: str | None = None,
    payload: bytes = BLOB,
) -> Case:
    row = Case(
        id=case_id,
        reference=reference or f"REF-{case_id}",
        mission_id=mission_id,
        kind=kind,
        urgency="urgent" if urgency_rank == 0 else "not_urgent",
        urgency_rank=urgency_rank,
        status=status,
        flagged=False,
        claimed_by=claimed_by,
        submitted_at=submitted_at,
        updated_at=updated_at,
        dek_wrapped=None if sealed else b"wrapped",
        kek_version=None if sealed else 1,
        payload_ct=payload,
    )
    _put(session, row)
    return row


def event(
    session: Session, event_id: str, case_id: str, created_at: datetime = T0, body: bytes = BLOB
) -> None:
    _put(
        session,
        CaseEvent(
            id=event_id,
            case_id=case_id,
            kind="note",
            author="officer:x",
            created_at=created_at,
            body_ct=body,
        ),
    )


def conversation(
    session: Session,
    conversation_id: str,
    *,
    channel: str = "telegram",
    pseudonym: str | None = None,
    pseudonym_version: int = 1,
    kek_version: int = 1,
    last_seen_at: datetime = T0,
    state: bytes = BLOB,
) -> None:
    _put(
        session,
        Conversation(
            id=conversation_id,
            channel=channel,
            sender_pseudonym=pseudonym or f"p-{conversation_id}",
            pseudonym_version=pseudonym_version,
            dek_wrapped=f"wrapped-{conversation_id}".encode(),
            kek_version=kek_version,
            chat_ct=BLOB,
            state_ct=state,
            created_at=T0,
            last_seen_at=last_seen_at,
        ),
    )


def attachment(
    session: Session,
    attachment_id: str,
    *,
    case_id: str | None = None,
    conversation_id: str | None = None,
    kek_version: int | None = None,
) -> None:
    _put(
        session,
        Attachment(
            id=attachment_id,
            case_id=case_id,
            conversation_id=conversation_id,
            dek_wrapped=None if kek_version is None else b"wrapped",
            kek_version=kek_version,
            meta_ct=BLOB,
            data_ct=BLOB,
            created_at=T0,
        ),
    )


def delivery(
    session: Session, delivery_id: str, channel: str = "telegram", kek_version: int = 1
) -> None:
    _put(
        session,
        Delivery(
            id=delivery_id,
            channel=channel,
            kind="reply",
            conversation_id=None,
            dek_wrapped=b"wrapped",
            kek_version=kek_version,
            body_ct=BLOB,
            attempts=0,
            created_at=T0,
        ),
    )


def channel_state(session: Session, channel: str, key: str, kek_version: int = 1) -> None:
    _put(
        session,
        ChannelState(
            channel=channel,
            key=key,
            dek_wrapped=b"wrapped",
            kek_version=kek_version,
            value_ct=BLOB,
            updated_at=T0,
        ),
    )


def officer(session: Session, officer_id: str, mission_id: str, status: str = "active") -> None:
    _put(
        session,
        Officer(
            id=officer_id,
            name=officer_id.title(),
            mission_id=mission_id,
            public_key=b"public",
            key_id=f"key-{officer_id}",
            wrapped_private_key=b"wrapped",
            status=status,
            created_at=T0,
            key_created_at=T0,
        ),
    )


def mission_key(session: Session, mission_id: str, version: int, created_at: datetime = T0) -> None:
    _put(
        session,
        MissionKey(
            mission_id=mission_id,
            version=version,
            public_key=f"public-{mission_id}-{version}".encode(),
            key_id=f"mk-{mission_id}-{version}",
            created_at=created_at,
        ),
    )


def recovery_key(session: Session, key_id: str, active: bool, created_at: datetime = T0) -> None:
    _put(
        session,
        RecoveryKey(key_id=key_id, public_key=b"public", active=active, created_at=created_at),
    )


def seal(
    session: Session, record_type: str, record_id: str, recipient: str, version: int = 1
) -> None:
    _put(
        session,
        KeySeal(
            record_type=record_type,
            record_id=record_id,
            recipient=recipient,
            recipient_version=version,
            sealed=f"{record_id}>{recipient}v{version}".encode(),
            created_at=T0,
        ),
    )


def processed(
    session: Session, digest: str, received_at: datetime, channel: str = "telegram"
) -> None:
    _put(session, ProcessedMessage(channel=channel, digest=digest, received_at=received_at))
