"""The liaison queue: case metadata for listing, and opening one case.

Listing reads plaintext columns only (mission, kind, urgency, status, times,
reference): the same data anyone with the database has. Opening decrypts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intake.errors import CaseNotFound
from intake.keys.holders import KeysAtHand
from intake.storage.cases import cases_page
from intake.storage.models import Case
from intake.storage.records import RecordCipher
from intake.triage.actions import OpenedCase, find_case
from intake.triage.actions import open_case as triage_open
from intake.triage.workflow import STATUSES

__all__ = [
    "STATUSES",
    "CaseNotFound",
    "CaseSummary",
    "list_cases",
    "open_case",
    "summary",
]


@dataclass(frozen=True)
class CaseSummary:
    reference: str
    mission: str
    kind: str
    urgency: str
    status: str
    flagged: bool
    claimed_by: str | None
    submitted_at: datetime
    updated_at: datetime

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "mission": self.mission,
            "kind": self.kind,
            "urgency": self.urgency,
            "status": self.status,
            "flagged": self.flagged,
            "claimed_by": self.claimed_by,
            "submitted_at": self.submitted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "age_seconds": int((now - self.submitted_at).total_seconds()),
        }


def _summary(case: Case) -> CaseSummary:
    return CaseSummary(
        reference=case.reference,
        mission=case.mission_id,
        kind=case.kind,
        urgency=case.urgency,
        status=case.status,
        flagged=case.flagged,
        claimed_by=case.claimed_by,
        submitted_at=case.submitted_at,
        updated_at=case.updated_at,
    )


def list_cases(
    session: Session,
    missions: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[CaseSummary]:
    """One page of the queue: most urgent first, then oldest first."""
    return [_summary(case) for case in cases_page(session, missions, statuses, limit, offset)]


def open_case(
    session: Session, cipher: RecordCipher, reference: str, keys: KeysAtHand | None = None
) -> OpenedCase:
    """Decrypt a case by reference with the keys at hand (no mission check: callers do it).

    Raises:
        CaseNotFound: no such reference.
        NoKeyAtHand: the case is sealed and `keys` cannot open it.
        crypto.CryptoError: a record does not decrypt (tampered, misplaced, key gone).
    """
    return triage_open(session, cipher, find_case(session, reference, None), keys)


def summary(case: Case) -> CaseSummary:
    return _summary(case)
