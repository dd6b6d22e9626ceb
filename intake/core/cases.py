"""Creating cases from submissions, and the files of drafts.

Storage-level helpers of the conversation service, taking a session and the
record cipher; the service opens and commits the transaction.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from intake.config import RoutingSettings
from intake.core.routing import Router, RoutingFacts
from intake.errors import NoKeyAtHand
from intake.keys.holders import seal_record_key
from intake.messages import Attachment
from intake.references import new_reference
from intake.storage import conversations as storage
from intake.storage.models import Attachment as AttachmentRow
from intake.storage.models import Case
from intake.storage.records import RecordCipher, new_record_id
from intake.triage.missions import mission_exists, missions_serving

log = logging.getLogger(__name__)

URGENCY_RANK = {"immediate": 0, "days": 1, "not_urgent": 2}
_REFERENCE_ATTEMPTS = 8


def route(session: Session, routing: RoutingSettings, facts: RoutingFacts) -> str:
    """The mission queue for `facts` (raises `RoutingError` when none can take it)."""
    router = Router(
        routing.rules,
        routing.fallback,
        serving=lambda country: list(missions_serving(session, country)),
        exists=lambda mission: mission_exists(session, mission),
    )
    return router.route(facts)


def store_draft_attachment(
    session: Session,
    cipher: RecordCipher,
    conversation_id: str,
    attachment: Attachment,
    now: datetime,
) -> str:
    """Encrypt a file into the draft of a conversation; returns its id."""
    attachment_id = new_record_id()
    dek, wrapped, version = cipher.new_key("attachment", attachment_id)
    meta = {
        "media_type": attachment.media_type,
        "name": attachment.name,
        "size": len(attachment.data),
    }
    session.add(
        AttachmentRow(
            id=attachment_id,
            conversation_id=conversation_id,
            dek_wrapped=wrapped,
            kek_version=version,
            # Who can decrypt: the service until submission, then whoever opens the case.
            meta_ct=cipher.seal_json(dek, "attachment", attachment_id, "meta", meta),
            data_ct=cipher.seal(dek, "attachment", attachment_id, "data", attachment.data),
            created_at=now,
        )
    )
    session.flush()  # visible to the batch's later queries (which do not autoflush)
    return attachment_id


def _adopt_attachments(
    session: Session, cipher: RecordCipher, conversation_id: str, case_id: str
) -> dict[str, str]:
    """Move a draft's files to the case: their keys go into the case payload."""
    files: dict[str, str] = {}
    for row in storage.draft_attachments(session, conversation_id):
        assert row.dek_wrapped is not None  # noqa: S101 - drafts always carry their key
        dek = cipher.open_key("attachment", row.id, row.dek_wrapped)
        files[row.id] = base64.b64encode(dek).decode("ascii")
        row.case_id = case_id
        row.conversation_id = None
        row.dek_wrapped = None
        row.kek_version = None
    return files


def _unused_reference(session: Session) -> str:
    for _ in range(_REFERENCE_ATTEMPTS):
        reference = new_reference()
        if not storage.reference_taken(session, reference):
            return reference
    raise RuntimeError("could not draw an unused case reference; the space is exhausted")


def create_case(
    session: Session,
    cipher: RecordCipher,
    *,
    mission_id: str,
    facts: RoutingFacts,
    report: Mapping[str, Any],
    conversation_id: str,
    channel: str,
    now: datetime,
) -> Case:
    """Create a case in `mission_id`'s queue from a submitted report and the draft's files."""
    case_id = new_record_id()
    dek, wrapped, version = cipher.new_key("case", case_id)
    urgency = facts.urgency or "not_urgent"
    case = Case(
        id=case_id,
        reference=_unused_reference(session),
        mission_id=mission_id,
        kind=facts.kind,
        urgency=urgency,
        urgency_rank=URGENCY_RANK.get(urgency, len(URGENCY_RANK)),
        status="new",
        flagged=False,
        submitted_at=now,
        updated_at=now,
        dek_wrapped=wrapped,
        kek_version=version,
        payload_ct=b"",  # sealed below, once the files' keys are known
    )
    session.add(case)
    session.flush()  # the case row must exist before its files point to it
    payload = {
        **report,
        "routing": {
            "kind": facts.kind,
            "country": facts.country,
            "subdivision": facts.subdivision,
            "category": list(facts.category),
            "urgency": facts.urgency,
        },
        "attachments": _adopt_attachments(session, cipher, conversation_id, case_id),
        "conversation": conversation_id,
        "channel": channel,
    }
    case.payload_ct = cipher.seal_json(dek, "case", case_id, "payload", payload)
    try:
        # Who can decrypt from now on: the mission's officers and the recovery key.
        seal_record_key(session, "case", case_id, case.reference, mission_id, dek, now)
    except NoKeyAtHand:
        # A setup from before officer keys: the case stays under the keyring
        # until security staff create a recovery key and re-seal.
        log.warning(
            "no recovery key: case left under the server keyring", extra={"case": case.reference}
        )
        return case
    # The server's copy of the key is destroyed: the server alone can no longer read the case.
    case.dek_wrapped = None
    case.kek_version = None
    return case
