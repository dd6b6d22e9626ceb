"""Grouped counts of plaintext columns, for `/metrics` and reports.

Only what the schema keeps in the clear for routing and ordering (mission,
kind, status, channel): the same figures anyone with the database already has.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.storage.models import Case, Delivery


@dataclass(frozen=True, slots=True)
class QueueCount:
    """How many cases one mission holds of one kind in one state."""

    mission_id: str
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class ChannelCount:
    """How many deliveries wait for one channel."""

    channel: str
    count: int


def count_cases_by_mission_kind_status(session: Session) -> list[QueueCount]:
    """Cases grouped by (mission, kind, status); groups with none are absent."""
    rows = session.execute(
        select(Case.mission_id, Case.kind, Case.status, func.count()).group_by(
            Case.mission_id, Case.kind, Case.status
        )
    )
    return [QueueCount(mission, kind, status, int(count)) for mission, kind, status, count in rows]


def count_deliveries_by_channel(session: Session) -> list[ChannelCount]:
    """Pending deliveries grouped by channel; channels with none are absent."""
    rows = session.execute(select(Delivery.channel, func.count()).group_by(Delivery.channel))
    return [ChannelCount(channel, int(count)) for channel, count in rows]
