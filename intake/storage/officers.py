"""Liaison officers (`Officer` rows): public keys and passphrase-wrapped private keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.storage.models import Officer


def officer_by_id(session: Session, officer_id: str) -> Officer | None:
    return session.get(Officer, officer_id)


def officers_by_mission_and_id(session: Session, mission_id: str | None = None) -> list[Officer]:
    """Every officer (active or revoked), or a mission's, ordered by mission then id."""
    query = select(Officer).order_by(Officer.mission_id, Officer.id)
    if mission_id:
        query = query.where(Officer.mission_id == mission_id)
    return list(session.scalars(query))


def active_officers(session: Session) -> list[Officer]:
    """Active officers of every mission, ordered by mission then id."""
    return list(
        session.scalars(
            select(Officer)
            .where(Officer.status == "active")
            .order_by(Officer.mission_id, Officer.id)
        )
    )


def active_officers_of_mission(session: Session, mission_id: str) -> list[Officer]:
    return list(
        session.scalars(
            select(Officer).where(Officer.mission_id == mission_id, Officer.status == "active")
        )
    )
