"""Routing a submission, case references, and the files of drafts.

Storage-level helpers of the conversation service, taking a session and the
record cipher; the service opens and commits the transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from intake.config import RoutingSettings
from intake.core.routing import Router, RoutingFacts
from intake.messages import Attachment
from intake.references import new_reference
from intake.storage import conversations as storage
from intake.storage.models import Attachment as AttachmentRow
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
    dek, wrapped, epoch = cipher.new_draft_key("attachment", attachment_id)
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
            kek_version=None,
            draft_epoch=epoch,
            # Who can decrypt: the service (this draft epoch) until submission; then the
            # file is re-encrypted for whoever opens the case (intake.core.submission).
            meta_ct=cipher.seal_json(dek, "attachment", attachment_id, "meta", meta),
            data_ct=cipher.seal(dek, "attachment", attachment_id, "data", attachment.data),
            created_at=now,
        )
    )
    session.flush()  # visible to the batch's later queries (which do not autoflush)
    return attachment_id


def unused_reference(session: Session) -> str:
    for _ in range(_REFERENCE_ATTEMPTS):
        reference = new_reference()
        if not storage.reference_taken(session, reference):
            return reference
    raise RuntimeError("could not draw an unused case reference; the space is exhausted")
