"""Submission: a draft becomes a case sealed to its mission, and the draft stops opening.

What is sealed to whom, at submission:
- the case's data key is fresh and sealed straight to the routed mission's
  current key and to the recovery key; it is never wrapped under the server
  keyring, so the server alone cannot open the case from this moment on;
- the case payload holds the defender's answers, the routing facts, each
  file's data key, and the **return address** (channel, chat, platform
  sender): only whoever opens the case (the mission's officers, the recovery
  key) learns where the defender is; the conversation keeps no case list;
- every draft file is re-encrypted under a fresh data key into a new row (its
  key goes into the sealed payload); the draft row, whose key was wrapped under
  a draft epoch, is overwritten and deleted;
- the conversation gets a fresh data key (`Drafts.fresh_key`), so nothing the
  server holds afterwards opens an earlier copy of the draft.

The service then truncates SQLite's write-ahead log after the commit. What
remains elsewhere (PostgreSQL's dead tuples and WAL, backups) is wrapped under
draft-epoch keys and stops opening when those are destroyed (README).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto import new_data_key
from flows import split_place
from intake.core.cases import URGENCY_RANK, unused_reference
from intake.core.routing import RoutingFacts
from intake.errors import UntrustedKey
from intake.keys.directory import KeyDirectory
from intake.keys.holders import seal_record_key
from intake.storage import conversations as storage
from intake.storage.models import Attachment as AttachmentRow
from intake.storage.models import Case
from intake.storage.records import RecordCipher, new_record_id

log = logging.getLogger(__name__)

# session.info key: a submission was committed in this transaction (truncate the WAL after).
SUBMITTED = "hrd_intake.submitted"


def create_case(
    session: Session,
    cipher: RecordCipher,
    *,
    mission_id: str,
    facts: RoutingFacts,
    report: Mapping[str, Any],
    conversation_id: str,
    return_address: Mapping[str, str],
    now: datetime,
) -> Case:
    """Create a sealed case in `mission_id`'s queue from a report and the draft's files.

    Raises:
        NoKeyAtHand: there is no recovery key; nothing was written (the draft stays).
        UntrustedKey: the mission's or the recovery key does not verify under the keyring.
    """
    case_id = new_record_id()
    reference = unused_reference(session)
    dek = new_data_key()
    # Who can decrypt: the mission's officers and the recovery key, nobody else.
    # First, so that without a recovery key nothing at all is written.
    # Both keys are checked against the keyring first; a key that does not verify
    # raises UntrustedKey and the submission is held (nothing written).
    try:
        seal_record_key(
            session, KeyDirectory(cipher.keyring()), "case", case_id, reference, mission_id, dek, now
        )
    except UntrustedKey:
        # The keyring may have pinned a new key this very second (a rotation): look at
        # the file once more before holding the submission.
        seal_record_key(
            session,
            KeyDirectory(cipher.fresh_keyring()),
            "case",
            case_id,
            reference,
            mission_id,
            dek,
            now,
        )
    urgency = facts.urgency or "not_urgent"
    case = Case(
        id=case_id,
        reference=reference,
        mission_id=mission_id,
        kind=facts.kind,
        urgency=urgency,
        urgency_rank=URGENCY_RANK.get(urgency, len(URGENCY_RANK)),
        status="new",
        flagged=False,
        submitted_at=now,
        updated_at=now,
        # The country only (never the region or city typed): what the queue filters by.
        country=split_place(facts.country)[0],
        dek_wrapped=None,
        kek_version=None,
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
        "attachments": _move_files(session, cipher, conversation_id, case_id, now),
        "return": dict(return_address),
    }
    case.payload_ct = cipher.seal_json(dek, "case", case_id, "payload", payload)
    session.info[SUBMITTED] = True
    return case


def _move_files(
    session: Session, cipher: RecordCipher, conversation_id: str, case_id: str, now: datetime
) -> dict[str, str]:
    """Re-encrypt a draft's files under fresh keys, as the case's; returns id -> key (b64)."""
    files: dict[str, str] = {}
    for row in storage.draft_attachments(session, conversation_id):
        assert row.dek_wrapped is not None  # noqa: S101 - drafts always carry their key
        old_key = cipher.open_key("attachment", row.id, row.dek_wrapped)
        meta = cipher.open_json(old_key, "attachment", row.id, "meta", row.meta_ct)
        data = cipher.open(old_key, "attachment", row.id, "data", row.data_ct)
        new_id = new_record_id()
        dek = new_data_key()
        session.add(
            AttachmentRow(
                id=new_id,
                conversation_id=None,
                case_id=case_id,
                dek_wrapped=None,
                kek_version=None,
                draft_epoch=None,
                # Who can decrypt: whoever opens the case (its key is in the sealed payload).
                meta_ct=cipher.seal_json(dek, "attachment", new_id, "meta", meta),
                data_ct=cipher.seal(dek, "attachment", new_id, "data", data),
                created_at=row.created_at,
            )
        )
        storage.overwrite_and_delete_attachment(session, row.id)
        files[new_id] = base64.b64encode(dek).decode("ascii")
    session.flush()
    return files
