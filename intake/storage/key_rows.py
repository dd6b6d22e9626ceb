"""Queries of the public-key rows the key directory checks and tags (`intake.keys.directory`).

They return the rows themselves: the directory reads and writes their
`key_mac` and public key in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.storage.models import MissionKey, Officer, RecoveryKey

__all__ = ["active_recovery_row", "mission_key_rows", "newest_mission_key_row", "officer_rows"]


def active_recovery_row(session: Session) -> RecoveryKey | None:
    """The recovery key row marked active (None: there is none)."""
    return session.scalar(select(RecoveryKey).where(RecoveryKey.active.is_(True)))


def newest_mission_key_row(session: Session, mission_id: str) -> MissionKey | None:
    """The highest version of a mission's key (None: the mission has no key)."""
    return session.scalar(
        select(MissionKey)
        .where(MissionKey.mission_id == mission_id)
        .order_by(MissionKey.version.desc())
        .limit(1)
    )


def mission_key_rows(session: Session) -> list[MissionKey]:
    """Every mission key version, by mission then version."""
    return list(
        session.scalars(select(MissionKey).order_by(MissionKey.mission_id, MissionKey.version))
    )


def officer_rows(session: Session, *, active_only: bool) -> list[Officer]:
    """Officers by id; with `active_only`, those not revoked."""
    query = select(Officer).order_by(Officer.id)
    if active_only:
        query = query.where(Officer.status == "active")
    return list(session.scalars(query))
