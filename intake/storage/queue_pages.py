"""Queries of the officers' queue pages, statistics and case timelines.

Plaintext columns only (mission, kind, urgency, status, country, times,
reference, who holds it): what anyone with the database already has. Named
results, never tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, defer

from intake.storage.models import AuditEntry, Case

__all__ = [
    "QueueFilter",
    "StatRow",
    "case_audit_entries",
    "queue_cases",
    "queue_count",
    "stat_rows",
]


@dataclass(frozen=True)
class QueueFilter:
    """What a queue page shows; an empty criterion matches anything.

    Closed cases are left out unless `statuses` names "closed" or `include_closed`.
    """

    missions: Sequence[str] = ()
    statuses: Sequence[str] = ()
    kinds: Sequence[str] = ()
    countries: Sequence[str] = ()
    claimed_by: str | None = None
    answered: bool = False
    reference: str | None = None
    include_closed: bool = False


_Q = TypeVar("_Q", bound=Select[Any])


def _filtered(query: _Q, wanted: QueueFilter) -> _Q:
    if wanted.missions:
        query = query.where(Case.mission_id.in_(list(wanted.missions)))
    if wanted.statuses:
        query = query.where(Case.status.in_(list(wanted.statuses)))
    elif not wanted.include_closed:
        query = query.where(Case.status != "closed")
    if wanted.kinds:
        query = query.where(Case.kind.in_(list(wanted.kinds)))
    if wanted.countries:
        query = query.where(Case.country.in_(list(wanted.countries)))
    if wanted.claimed_by is not None:
        query = query.where(Case.claimed_by == wanted.claimed_by)
    if wanted.answered:
        query = query.where(Case.answered_at.is_not(None))
    if wanted.reference:
        query = query.where(Case.reference.startswith(wanted.reference, autoescape=True))
    return query


def queue_cases(session: Session, wanted: QueueFilter, *, limit: int, offset: int) -> list[Case]:
    """One page: most urgent first, then oldest first."""
    # The sealed payload is never listed: leave it in the database.
    query = _filtered(select(Case).options(defer(Case.payload_ct)), wanted)
    query = (
        query.order_by(Case.urgency_rank, Case.submitted_at, Case.id).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def queue_count(session: Session, wanted: QueueFilter) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(Case), wanted)) or 0)


@dataclass(frozen=True)
class StatRow:
    submitted_at: datetime
    kind: str
    country: str | None
    status: str


def stat_rows(session: Session, mission: str) -> list[StatRow]:
    """Every case of a mission, as the plaintext columns the statistics count."""
    query = select(Case.submitted_at, Case.kind, Case.country, Case.status).where(
        Case.mission_id == mission
    )
    return [
        StatRow(row.submitted_at, row.kind, row.country, row.status)
        for row in session.execute(query)
    ]


def case_audit_entries(session: Session, reference: str) -> list[AuditEntry]:
    """A case's audit entries, oldest first (the timeline's metadata)."""
    query = select(AuditEntry).where(AuditEntry.subject == reference).order_by(AuditEntry.seq)
    return list(session.scalars(query))
