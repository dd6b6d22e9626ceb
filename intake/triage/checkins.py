"""Safety check-ins seen from the mission: the alert case, its events, the officers' view.

A missed check-in or a duress answer raises one urgent case (kind
`missed_checkin`, urgency immediate) in the mission's queue. Its payload and
key were sealed when the check-in started (`intake.keys.checkin_seals`), so
raising it needs no key: the row is inserted and the seals installed. Later
alerts of the same check-in, and a late check-in, add events to that case
(sealed to the mission like every event) instead of opening another one; a
case closed meanwhile is reopened by a new alert. Officers are told without
content, and every step is audited. Why an alert was raised (missed or
duress) is only in the sealed event, never in plaintext: a seized database
must not tell a coercer that the defender gave the duress word.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto import wrapped_key_version
from intake.errors import OfficerRefused
from intake.keys.checkin_seals import install_case_seals
from intake.storage import audit
from intake.storage import checkins as storage
from intake.storage.deliveries import queue_delivery
from intake.storage.models import Case, Checkin, Officer
from intake.storage.records import RecordCipher
from intake.triage.actions import add_event, change_status

__all__ = ["EVENT_TEXTS", "Alert", "CheckinListing", "checkins_for", "note_on_case", "raise_alert"]

CheckinListing = storage.CheckinListing
log = logging.getLogger(__name__)

KIND = "missed_checkin"
URGENCY = "immediate"

# What officers read in the sealed event of each check-in happening.
EVENT_TEXTS = {
    "missed": "Missed check-in: the defender did not answer the check-in prompt by {due}.",
    "duress": "Duress: the defender answered a check-in with their duress word. "
    "They were answered as if they had checked in. Act discreetly.",
    "global_duress": "Duress: the defender typed the service's duress word; the check-in ended.",
    "late": "Checked in late: the defender answered with their check-in word.",
    "checked_in": "Checked in: the defender answered with their check-in word.",
}


@dataclass(frozen=True)
class Alert:
    reference: str
    created: bool  # False: an event was added to the check-in's existing case


def raise_alert(
    session: Session,
    cipher: RecordCipher,
    checkin: Checkin,
    link: Mapping[str, Any],
    reason: str,
    notify: Mapping[str, str],
    now: datetime,
    audit_later: list[tuple[str, str]] | None = None,
) -> Alert:
    """Raise (or add to) the check-in's urgent case; `reason` is a key of `EVENT_TEXTS`.

    Runs in the caller's transaction, which also changes the check-in's state:
    the case's primary key (reserved at the start) makes a second raise of the
    same case impossible even if two writers slipped past the row lock. With
    `audit_later`, the audit entry's (reference, mission) is appended there for
    the caller to write just before its commit: the audit chain's lock is then
    held for the end of a batch only, not through it.
    """
    case_id, reference = str(link["case_id"]), str(link["reference"])
    case = storage.case_by_id(session, case_id)
    created = case is None
    if case is None:
        case = Case(
            id=case_id,
            reference=reference,
            mission_id=checkin.mission_id,
            kind=KIND,
            urgency=URGENCY,
            urgency_rank=0,
            status="new",
            flagged=False,
            submitted_at=now,
            updated_at=now,
            dek_wrapped=checkin.case_dek_wrapped,
            kek_version=(
                None
                if checkin.case_dek_wrapped is None
                else wrapped_key_version(checkin.case_dek_wrapped)
            ),
            payload_ct=checkin.case_payload_ct,
        )
        session.add(case)
        session.flush()
        if checkin.case_dek_wrapped is None:
            install_case_seals(session, case_id, checkin.case_seals, now)
    elif case.status == "closed":
        change_status(session, case, "reopen", "service", now)
    due = checkin.due_at.isoformat() if checkin.due_at else "?"
    add_event(session, cipher, case, "checkin", "service", EVENT_TEXTS[reason].format(due=due), now)
    if audit_later is None:
        audit.append(session, now, "service", "checkin.alert", reference, mission=checkin.mission_id)
    else:
        audit_later.append((reference, checkin.mission_id))
    if created:
        for channel, chat in notify.items():
            # Officers learn that an urgent case arrived, never what it says.
            text = f"New missed checkin {reference} for {checkin.mission_id}, urgency {URGENCY}."
            queue_delivery(
                session,
                cipher,
                channel=channel,
                kind="notify",
                chat=chat,
                text=text,
                conversation_id=None,
                now=now,
            )
    log.info("check-in alert raised", extra={"case": reference, "mission": checkin.mission_id})
    return Alert(reference, created)


def note_on_case(
    session: Session, cipher: RecordCipher, link: Mapping[str, Any], reason: str, now: datetime
) -> bool:
    """Add a check-in event to the alert case if it was raised; False if there is none."""
    case = storage.case_by_id(session, str(link["case_id"]))
    if case is None:
        return False
    add_event(session, cipher, case, "checkin", "service", EVENT_TEXTS[reason], now)
    # One action whether the case came from a miss or a duress answer: which one it was
    # must not show in plaintext (the sealed event says it).
    audit.append(session, now, "service", "checkin.answered", case.reference)
    return True


def checkins_for(
    session: Session, officer: Officer | None, missions: Sequence[str] = ()
) -> list[storage.CheckinListing]:
    """Running check-ins, metadata only (next due time, state); an officer sees their mission's.

    The web console calls this too.

    Raises:
        OfficerRefused: an officer asked for another mission's.
    """
    if officer is not None:
        foreign = [m for m in missions if m != officer.mission_id]
        if foreign:
            raise OfficerRefused(f"not in the queue of {foreign[0]}")
        missions = [officer.mission_id]
    return storage.list_checkins(session, list(missions) or None)
