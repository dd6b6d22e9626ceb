"""The missions directory (`Mission` rows)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.storage.models import Mission


def missions_by_id(session: Session) -> list[Mission]:
    """Every mission, ordered by id."""
    return list(session.scalars(select(Mission).order_by(Mission.id)))


def mission_by_id(session: Session, mission_id: str) -> Mission | None:
    return session.get(Mission, mission_id)
