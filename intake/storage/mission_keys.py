"""Mission key versions (`MissionKey` rows) and the recovery keys' public halves.

Only public halves live in these rows; private halves are sealed in
`KeySeal` rows (see `intake.storage.seals`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.storage.models import MissionKey, RecoveryKey


@dataclass(frozen=True, slots=True)
class MissionKeyRef:
    """One version of one mission's key, by name."""

    mission_id: str
    version: int


def latest_mission_key(session: Session, mission_id: str) -> MissionKey | None:
    """The mission's highest key version (None: it has no key yet)."""
    return session.scalar(
        select(MissionKey)
        .where(MissionKey.mission_id == mission_id)
        .order_by(MissionKey.version.desc())
        .limit(1)
    )


def mission_key_versions(session: Session, mission_id: str) -> list[int]:
    """Every key version of a mission (in no particular order; empty: no key)."""
    return list(
        session.scalars(select(MissionKey.version).where(MissionKey.mission_id == mission_id))
    )


def missions_with_keys(session: Session) -> set[str]:
    return set(session.scalars(select(MissionKey.mission_id).distinct()))


def mission_key_refs(session: Session) -> list[MissionKeyRef]:
    """Every (mission, version) that has a key (in no particular order)."""
    rows = session.execute(select(MissionKey.mission_id, MissionKey.version))
    return [MissionKeyRef(mission_id, int(version)) for mission_id, version in rows]


def mission_keys_by_mission_and_version(session: Session) -> list[MissionKey]:
    return list(
        session.scalars(select(MissionKey).order_by(MissionKey.mission_id, MissionKey.version))
    )


def active_recovery_key_row(session: Session) -> RecoveryKey | None:
    return session.scalar(select(RecoveryKey).where(RecoveryKey.active.is_(True)))


def recovery_keys_oldest_first(session: Session) -> list[RecoveryKey]:
    return list(session.scalars(select(RecoveryKey).order_by(RecoveryKey.created_at)))
