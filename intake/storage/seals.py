"""Sealed secrets (`KeySeal` rows): who holds a sealed copy of which data or mission key.

Rows are ciphertext sealed (HPKE) to one recipient; this module finds,
counts and deletes them and never opens one (`intake.keys.holders` does).
Recipients are named `mission:<id>`, `officer:<id>` and `recovery:<key id>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, literal, select
from sqlalchemy.orm import Session

from intake.storage.models import Case, CaseEvent, KeySeal, Officer


@dataclass(frozen=True, slots=True)
class HeldSeal:
    """That `recipient` holds a sealed copy of record `record_id`."""

    recipient: str
    record_id: str


def seals_of_record(session: Session, record_type: str, record_id: str) -> list[KeySeal]:
    """Every seal of one record's key (to any recipient and version)."""
    return list(
        session.scalars(
            select(KeySeal).where(
                KeySeal.record_type == record_type, KeySeal.record_id == record_id
            )
        )
    )


def seals_of_records(
    session: Session, record_type: str, record_ids: Sequence[str]
) -> list[KeySeal]:
    """Every seal of the keys of these records of one type."""
    return list(
        session.scalars(
            select(KeySeal).where(
                KeySeal.record_type == record_type, KeySeal.record_id.in_(record_ids)
            )
        )
    )


def seals_to_recipient(session: Session, recipient: str, limit: int) -> list[KeySeal]:
    """Up to `limit` seals held by `recipient` (any record type)."""
    return list(session.scalars(select(KeySeal).where(KeySeal.recipient == recipient).limit(limit)))


def count_seals_to_recipient(session: Session, recipient: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(KeySeal).where(KeySeal.recipient == recipient)
        )
        or 0
    )


def mission_key_records_held_by(session: Session, recipient: str) -> list[str]:
    """Mission key records ("<mission>/<version>") sealed to `recipient`."""
    return list(
        session.scalars(
            select(KeySeal.record_id).where(
                KeySeal.record_type == "mission_key", KeySeal.recipient == recipient
            )
        )
    )


def officer_mission_key_seals(session: Session) -> list[HeldSeal]:
    """Every sealed copy of a mission key held by an officer."""
    rows = session.execute(
        select(KeySeal.recipient, KeySeal.record_id).where(
            KeySeal.record_type == "mission_key", KeySeal.recipient.like("officer:%")
        )
    )
    return [HeldSeal(recipient, record_id) for recipient, record_id in rows]


def count_officer_seals_by_mission_key(session: Session) -> dict[str, int]:
    """Mission key record ("<mission>/<version>") -> officers holding a sealed copy."""
    rows = session.execute(
        select(KeySeal.record_id, func.count())
        .where(KeySeal.record_type == "mission_key", KeySeal.recipient.like("officer:%"))
        .group_by(KeySeal.record_id)
    )
    return {record_id: int(count) for record_id, count in rows}


def count_recovery_seals_by_recipient(session: Session) -> dict[str, int]:
    """Recovery recipient ("recovery:<key id>") -> seals it holds."""
    rows = session.execute(
        select(KeySeal.recipient, func.count())
        .where(KeySeal.recipient.like("recovery:%"))
        .group_by(KeySeal.recipient)
    )
    return {recipient: int(count) for recipient, count in rows}


def delete_seals_of_records(session: Session, record_type: str, record_ids: Sequence[str]) -> int:
    """Delete every seal of these records' keys; returns how many (nothing to do for no ids)."""
    if not record_ids:
        return 0
    result = session.execute(
        delete(KeySeal).where(
            KeySeal.record_type == record_type, KeySeal.record_id.in_(list(record_ids))
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_mission_key_seals_to(session: Session, recipient: str) -> int:
    """Delete every mission key seal held by `recipient`; returns how many."""
    result = session.execute(
        delete(KeySeal).where(KeySeal.record_type == "mission_key", KeySeal.recipient == recipient)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_seals_to_other_versions(
    session: Session, record_type: str, record_id: str, recipient: str, keep_version: int
) -> int:
    """Delete a record's seals to `recipient` under any version but `keep_version`."""
    result = session.execute(
        delete(KeySeal).where(
            KeySeal.record_type == record_type,
            KeySeal.record_id == record_id,
            KeySeal.recipient == recipient,
            KeySeal.recipient_version != keep_version,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_orphan_seals(session: Session) -> int:
    """Delete seals of case or event keys whose record is gone; returns how many."""
    dropped = 0
    for record_type, model in (("case", Case), ("event", CaseEvent)):
        orphan = ~exists().where(model.id == KeySeal.record_id)
        result = session.execute(delete(KeySeal).where(KeySeal.record_type == record_type, orphan))
        dropped += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return dropped


def officers_holding_mission_keys(session: Session) -> dict[str, set[str]]:
    """Mission key record ("<mission>/<version>") -> ids of active officers holding a copy."""
    rows = session.execute(
        select(KeySeal.record_id, Officer.id)
        .join(Officer, KeySeal.recipient == literal("officer:") + Officer.id)
        .where(KeySeal.record_type == "mission_key", Officer.status == "active")
    )
    held: dict[str, set[str]] = {}
    for record_id, officer_id in rows:
        held.setdefault(record_id, set()).add(officer_id)
    return held
