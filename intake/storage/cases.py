"""Cases, their events and their files: finding, listing and claiming them.

Listing reads plaintext columns only (mission, kind, urgency, status, times,
reference); payloads and event bodies stay ciphertext here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from intake.storage.models import Attachment, Case, CaseEvent


@dataclass(frozen=True, slots=True)
class CaseIds:
    """A case's row id and its reference, the name staff know it by."""

    id: str
    reference: str


def case_by_reference(session: Session, reference: str) -> Case | None:
    return session.scalar(select(Case).where(Case.reference == reference))


def case_references_by_id(session: Session, case_ids: Sequence[str]) -> dict[str, str]:
    """Case id -> reference, for those of `case_ids` that exist."""
    if not case_ids:
        return {}
    rows = session.execute(select(Case.id, Case.reference).where(Case.id.in_(case_ids)))
    return {case_id: reference for case_id, reference in rows}


def cases_page(
    session: Session,
    missions: Sequence[str] | None,
    statuses: Sequence[str] | None,
    limit: int,
    offset: int,
) -> list[Case]:
    """One page of the queue: most urgent first, then oldest first (then by id)."""
    query = select(Case)
    if missions:
        query = query.where(Case.mission_id.in_(missions))
    if statuses:
        query = query.where(Case.status.in_(statuses))
    query = (
        query.order_by(Case.urgency_rank, Case.submitted_at, Case.id).limit(limit).offset(offset)
    )
    return list(session.scalars(query))


def count_cases_of_missions(session: Session, missions: Sequence[str] | None = None) -> int:
    """How many cases there are (in `missions`, when given)."""
    query = select(func.count()).select_from(Case)
    if missions:
        query = query.where(Case.mission_id.in_(missions))
    return int(session.scalar(query) or 0)


def sealed_cases_of_mission(session: Session, mission_id: str) -> list[Case]:
    """The mission's cases whose key is sealed (no server copy left)."""
    return list(
        session.scalars(
            select(Case).where(Case.mission_id == mission_id, Case.dek_wrapped.is_(None))
        )
    )


def open_sealed_cases_of_mission(session: Session, mission_id: str) -> list[CaseIds]:
    """The mission's cases not closed whose key is sealed."""
    rows = session.execute(
        select(Case.id, Case.reference).where(
            Case.mission_id == mission_id,
            Case.status != "closed",
            Case.dek_wrapped.is_(None),
        )
    )
    return [CaseIds(case_id, reference) for case_id, reference in rows]


def claim_case(session: Session, case_id: str, officer_id: str, now: datetime) -> bool:
    """Claim a case for an officer unless someone else holds it; False when someone does.

    One conditional UPDATE: of two simultaneous claims, one wins. The loaded
    `Case` object is not synchronised (refresh it to see the holder).
    """
    result = session.execute(
        update(Case)
        .where(Case.id == case_id, (Case.claimed_by.is_(None)) | (Case.claimed_by == officer_id))
        .values(claimed_by=officer_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def events_of_case(session: Session, case_id: str) -> list[CaseEvent]:
    """A case's events, oldest first."""
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.created_at)
        )
    )


def event_ids_of_cases(session: Session, case_ids: Sequence[str]) -> list[str]:
    if not case_ids:
        return []
    return list(session.scalars(select(CaseEvent.id).where(CaseEvent.case_id.in_(case_ids))))


def events_of_mission(session: Session, mission_id: str) -> list[CaseEvent]:
    """Every event of every case of the mission."""
    return list(session.scalars(select(CaseEvent).join(Case).where(Case.mission_id == mission_id)))


def attachments_of_case(session: Session, case_id: str) -> list[Attachment]:
    return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id)))
