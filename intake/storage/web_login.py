"""Rows of the web console's login: second factors, enrolment codes, lockouts.

Each function takes the caller's session and does one thing; the login desk
(`intake.triage.logins`) decides and commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.storage.models import WebEnrolment, WebFactor, WebLockout

__all__ = [
    "add_factor",
    "delete_enrolment",
    "delete_factors",
    "enrolment_of",
    "factor_by_credential",
    "factors_of",
    "locked_until",
    "lockout_of",
    "put_enrolment",
]


def factors_of(session: Session, officer_id: str, kind: str | None = None) -> list[WebFactor]:
    query = select(WebFactor).where(WebFactor.officer_id == officer_id)
    if kind is not None:
        query = query.where(WebFactor.kind == kind)
    return list(session.scalars(query.order_by(WebFactor.created_at)))


def factor_by_credential(session: Session, officer_id: str, credential_id: str) -> WebFactor | None:
    return session.scalar(
        select(WebFactor).where(
            WebFactor.officer_id == officer_id, WebFactor.credential_id == credential_id
        )
    )


def add_factor(session: Session, factor: WebFactor) -> None:
    session.add(factor)


def delete_factors(session: Session, officer_id: str) -> int:
    result = session.execute(delete(WebFactor).where(WebFactor.officer_id == officer_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def put_enrolment(
    session: Session, officer_id: str, code_hash: str, expires_at: datetime, now: datetime
) -> None:
    """The officer's one pending enrolment code (a new one replaces the old)."""
    row = session.get(WebEnrolment, officer_id)
    if row is None:
        session.add(
            WebEnrolment(
                officer_id=officer_id, code_hash=code_hash, expires_at=expires_at, created_at=now
            )
        )
    else:
        row.code_hash, row.expires_at, row.created_at = code_hash, expires_at, now


def enrolment_of(session: Session, officer_id: str) -> WebEnrolment | None:
    return session.get(WebEnrolment, officer_id)


def delete_enrolment(session: Session, officer_id: str) -> None:
    session.execute(delete(WebEnrolment).where(WebEnrolment.officer_id == officer_id))


def lockout_of(session: Session, officer_id: str, now: datetime) -> WebLockout:
    """The officer's lockout row (created at zero failures when absent)."""
    row = session.get(WebLockout, officer_id)
    if row is None:
        row = WebLockout(officer_id=officer_id, failures=0, locked_until=None, updated_at=now)
        session.add(row)
    return row


def locked_until(session: Session, officer_id: str) -> datetime | None:
    row = session.get(WebLockout, officer_id)
    return row.locked_until if row is not None else None
