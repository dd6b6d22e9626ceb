"""What reaches a case from the defender's side: their answers, and device warnings.

The service calls these when a defender answers an officer's reply, or when
their channel reports a new or changed device; both are sealed like the
case and audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.storage import audit
from intake.storage.cases import case_by_reference
from intake.storage.records import RecordCipher
from intake.triage.actions import add_event, change_status


def defender_answer(
    session: Session, cipher: RecordCipher, reference: str, text: str, now: datetime
) -> bool:
    """Store a defender's answer on their case, sealed like the case; False if it is closed or gone."""
    case = case_by_reference(session, reference)
    if case is None or case.status == "closed":
        return False
    add_event(session, cipher, case, "defender", "defender", text, now)
    case.answered_at = now
    audit.append(session, now, "service", "case.defender_answer", case.reference)
    if case.status == "awaiting_defender":
        change_status(session, case, "start", "service", now)
    return True


DEVICE_WARNING = (
    "Warning: the defender's account showed a new device that they have not verified (not "
    "cross-signed) while this case was open. It may be their new phone, or someone who took over "
    "their account: confirm who you are talking to before sharing anything sensitive."
)
IDENTITY_WARNING = (
    "Warning: the defender's Matrix identity (their cross-signing key) changed while this case was "
    "open. They may have reset their encryption, or someone else may control the account: confirm "
    "who you are talking to, out of band, before sharing anything sensitive."
)
# What a channel reports -> what the officer reads.
DEVICE_WARNINGS = {"new_device": DEVICE_WARNING, "identity_changed": IDENTITY_WARNING}


def warn_device_change(
    session: Session,
    cipher: RecordCipher,
    references: list[str],
    now: datetime,
    kind: str = "new_device",
) -> int:
    """Put the device warning of `kind` (`DEVICE_WARNINGS`) on each open case of
    `references`; returns how many."""
    text = DEVICE_WARNINGS.get(kind, DEVICE_WARNING)
    warned = 0
    for reference in references:
        case = case_by_reference(session, reference)
        if case is None or case.status == "closed":
            continue
        add_event(session, cipher, case, "warning", "service", text, now)
        audit.append(session, now, "service", "case.device_warning", case.reference)
        warned += 1
    return warned
