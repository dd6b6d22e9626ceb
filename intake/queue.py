"""The liaison queue: case metadata for listing, and opening one case.

Listing reads plaintext columns only (mission, kind, urgency, status, times,
reference): the same data anyone with the database has. Opening decrypts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.models import Attachment, Case
from intake.records import RecordCipher

STATUSES = (
    "new",
    "acknowledged",
    "in_progress",
    "awaiting_defender",
    "escalated",
    "transferred",
    "closed",
)


class CaseNotFound(Exception):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no case with reference {reference}")
        self.reference = reference


@dataclass(frozen=True)
class CaseSummary:
    reference: str
    mission: str
    kind: str
    urgency: str
    status: str
    flagged: bool
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
            "submitted_at": self.submitted_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "age_seconds": int((now - self.submitted_at).total_seconds()),
        }


@dataclass(frozen=True)
class AttachmentContent:
    id: str
    media_type: str
    name: str | None
    data: bytes


@dataclass(frozen=True)
class CaseContent:
    summary: CaseSummary
    payload: dict[str, Any]
    attachments: tuple[AttachmentContent, ...]


def _summary(case: Case) -> CaseSummary:
    return CaseSummary(
        reference=case.reference,
        mission=case.mission_id,
        kind=case.kind,
        urgency=case.urgency,
        status=case.status,
        flagged=case.flagged,
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
    query = select(Case)
    if missions:
        query = query.where(Case.mission_id.in_(missions))
    if statuses:
        query = query.where(Case.status.in_(statuses))
    query = (
        query.order_by(Case.urgency_rank, Case.submitted_at, Case.id).limit(limit).offset(offset)
    )
    return [_summary(case) for case in session.scalars(query)]


def count_cases(session: Session, missions: Sequence[str] | None = None) -> int:
    query = select(func.count()).select_from(Case)
    if missions:
        query = query.where(Case.mission_id.in_(missions))
    return int(session.scalar(query) or 0)


def open_case(session: Session, cipher: RecordCipher, reference: str) -> CaseContent:
    """Decrypt a case and its files with the server keyring.

    Raises:
        CaseNotFound: no such reference.
        crypto.CryptoError: a record does not decrypt (tampered, misplaced, key gone).
    """
    case = session.scalar(select(Case).where(Case.reference == reference))
    if case is None:
        raise CaseNotFound(reference)
    dek = cipher.open_key("case", case.id, case.dek_wrapped)
    payload: dict[str, Any] = cipher.open_json(dek, "case", case.id, "payload", case.payload_ct)
    files = []
    rows = {
        row.id: row
        for row in session.scalars(select(Attachment).where(Attachment.case_id == case.id))
    }
    for attachment_id, key in payload.get("attachments", {}).items():
        row = rows.get(attachment_id)
        if row is None:
            continue
        file_key = base64.b64decode(key)
        meta = cipher.open_json(file_key, "attachment", row.id, "meta", row.meta_ct)  # type: ignore[arg-type]
        data = cipher.open(file_key, "attachment", row.id, "data", row.data_ct)  # type: ignore[arg-type]
        files.append(AttachmentContent(row.id, str(meta["media_type"]), meta.get("name"), data))
    return CaseContent(_summary(case), payload, tuple(files))
