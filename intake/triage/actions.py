"""Triage: what officers do with a case, each step audited.

Every function takes the session (the caller commits once), acts as one
actor, and appends to the audit log. Refusals raise; the CLI records them in
the audit log in a transaction of their own, so a refused attempt leaves a
trace even though the action rolled back.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crypto import DataKey, new_data_key
from intake.errors import (
    CaseNotFound,
    DuressRefused,
    IllegalTransition,
    NoKeyAtHand,
    OfficerRefused,
)
from intake.keys.directory import KeyDirectory
from intake.keys.holders import KeysAtHand, drop_seals, seal_record_key
from intake.storage import audit
from intake.storage.cases import attachments_of_case, case_by_reference, claim_case, events_of_case
from intake.storage.conversation_record import open_turn, save_turn
from intake.storage.conversations import duress_marked
from intake.storage.deliveries import conversation_chat, queue_delivery
from intake.storage.models import Case, CaseEvent, Conversation, Officer
from intake.storage.records import RecordCipher, new_record_id
from intake.triage.missions import mission_exists
from intake.triage.workflow import next_status


@dataclass(frozen=True)
class EventContent:
    kind: str
    author: str
    created_at: datetime
    text: str
    id: str = ""


@dataclass(frozen=True)
class AttachmentContent:
    id: str
    media_type: str
    name: str | None
    data: bytes


@dataclass(frozen=True)
class OpenedCase:
    case: Case
    payload: dict[str, Any]
    attachments: tuple[AttachmentContent, ...]
    events: tuple[EventContent, ...]


def actor_name(officer: Officer | None, keys: KeysAtHand | None = None) -> str:
    if officer is not None:
        return f"officer:{officer.id}"
    if keys is not None and keys.is_recovery:
        return keys.recipient
    return "operator"


def find_case(session: Session, reference: str, officer: Officer | None) -> Case:
    """The case, if the acting officer's mission holds it (operators and recovery: any).

    Raises:
        CaseNotFound, OfficerRefused.
    """
    case = case_by_reference(session, reference)
    if case is None:
        raise CaseNotFound(reference)
    if officer is not None and case.mission_id != officer.mission_id:
        raise OfficerRefused(f"case {reference} is not in the queue of {officer.mission_id}")
    return case


def case_key(
    session: Session, cipher: RecordCipher, case: Case, keys: KeysAtHand | None
) -> DataKey:
    if case.dek_wrapped is not None:
        # Not sealed yet (no recovery key existed at submission): under the keyring.
        return cipher.open_key("case", case.id, case.dek_wrapped)
    if keys is None:
        raise NoKeyAtHand(
            f"case {case.reference} is sealed: an officer's or the recovery key is needed"
        )
    return DataKey(keys.open_record_key(session, "case", case.id, case.reference))


def open_case(
    session: Session, cipher: RecordCipher, case: Case, keys: KeysAtHand | None
) -> OpenedCase:
    """Decrypt a case, its files and its events with the keys at hand."""
    dek = case_key(session, cipher, case, keys)
    payload: dict[str, Any] = cipher.open_json(dek, "case", case.id, "payload", case.payload_ct)
    rows = {a.id: a for a in attachments_of_case(session, case.id)}
    files = []
    for attachment_id, encoded in payload.get("attachments", {}).items():
        row = rows.get(attachment_id)
        if row is None:
            continue
        file_key = DataKey(base64.b64decode(encoded))
        meta = cipher.open_json(file_key, "attachment", row.id, "meta", row.meta_ct)
        data = cipher.open(file_key, "attachment", row.id, "data", row.data_ct)
        files.append(AttachmentContent(row.id, str(meta["media_type"]), meta.get("name"), data))
    events = []
    for event in _events(session, case):
        event_key = _event_key(session, cipher, event, keys)
        text = cipher.open(event_key, "event", event.id, "body", event.body_ct).decode("utf-8")
        events.append(EventContent(event.kind, event.author, event.created_at, text, event.id))
    return OpenedCase(case, payload, tuple(files), tuple(events))


def _events(session: Session, case: Case) -> list[CaseEvent]:
    return events_of_case(session, case.id)


def _event_key(
    session: Session, cipher: RecordCipher, event: CaseEvent, keys: KeysAtHand | None
) -> DataKey:
    if keys is None:
        raise NoKeyAtHand("case events are sealed: an officer's or the recovery key is needed")
    return DataKey(keys.open_record_key(session, "event", event.id, event.id))


def add_event(
    session: Session,
    cipher: RecordCipher,
    case: Case,
    kind: str,
    author: str,
    text: str,
    now: datetime,
) -> CaseEvent:
    """A note, reply or defender's answer: its own data key, sealed like the case (no unlock needed)."""
    event_id = new_record_id()
    dek = new_data_key()
    event = CaseEvent(
        id=event_id,
        case_id=case.id,
        kind=kind,
        author=author,
        created_at=now,
        # Who can decrypt: the case's mission officers and the recovery key (sealed below).
        body_ct=cipher.seal(dek, "event", event_id, "body", text.encode("utf-8")),
    )
    session.add(event)
    directory = KeyDirectory(cipher.keyring())
    seal_record_key(session, directory, "event", event_id, event_id, case.mission_id, dek, now)
    case.updated_at = now
    return event


# Steps that need a reason (the others take one optionally).
REASON_REQUIRED = frozenset({"close"})


def change_status(
    session: Session,
    case: Case,
    trigger: str,
    actor: str,
    now: datetime,
    *,
    cipher: RecordCipher | None = None,
    reason: str | None = None,
) -> str:
    """Move a case along the workflow; a reason is sealed like a note and named in the audit.

    The desk (`intake.triage.desk`) requires a reason for the steps of `REASON_REQUIRED`;
    internal moves (a reply, a defender's answer) and test setups need none.

    Raises:
        IllegalTransition: the workflow does not allow it.
    """
    before = case.status
    case.status = next_status(before, trigger)
    case.updated_at = now
    detail: dict[str, str] = {"from": before, "to": case.status}
    reason = (reason or "").strip()
    if reason:
        if cipher is None:
            raise ValueError("a reason needs the record cipher to be sealed")
        # The audit log holds no case content: the reason is an event sealed like the
        # case, and the entry names that event's random id.
        detail["reason"] = add_event(session, cipher, case, "reason", actor, reason, now).id
    audit.append(session, now, actor, f"case.{trigger}", case.reference, **detail)
    return case.status


def claim(session: Session, case: Case, officer: Officer, now: datetime) -> None:
    """Claim a case for an officer; refused if someone else holds it.

    The conditional UPDATE makes two simultaneous claims safe: one wins.
    """
    if not claim_case(session, case.id, officer.id, now):
        session.refresh(case)
        raise OfficerRefused(f"case {case.reference} is already claimed by {case.claimed_by}")
    audit.append(session, now, f"officer:{officer.id}", "case.claim", case.reference)


def assign(session: Session, case: Case, colleague: Officer, actor: str, now: datetime) -> None:
    """Give a case to an active officer of its mission (whoever held it before).

    Raises:
        OfficerRefused: the colleague is revoked or of another mission.
    """
    if colleague.status != "active":
        raise OfficerRefused(f"officer {colleague.id} is revoked")
    if colleague.mission_id != case.mission_id:
        raise OfficerRefused(f"officer {colleague.id} is not in {case.mission_id}")
    before = case.claimed_by
    case.claimed_by = colleague.id
    case.updated_at = now
    audit.append(
        session, now, actor, "case.assign", case.reference, to=colleague.id, **{"from": before or ""}
    )


def unclaim(session: Session, case: Case, actor: str, now: datetime) -> None:
    """Release a claimed case back to the mission's queue.

    Raises:
        OfficerRefused: nobody holds it.
    """
    if case.claimed_by is None:
        raise OfficerRefused(f"case {case.reference} is not claimed")
    before = case.claimed_by
    case.claimed_by = None
    case.updated_at = now
    audit.append(session, now, actor, "case.unclaim", case.reference, **{"from": before})


def note(
    session: Session, cipher: RecordCipher, case: Case, actor: str, text: str, now: datetime
) -> None:
    add_event(session, cipher, case, "note", actor, text, now)
    audit.append(session, now, actor, "case.note", case.reference)


def reply(
    session: Session,
    cipher: RecordCipher,
    case: Case,
    keys: KeysAtHand,
    actor: str,
    text: str,
    render: Callable[[str, str, str], str],
    now: datetime,
) -> None:
    """Queue a reply for the defender, to the return address sealed inside the case.

    Only whoever opens the case (this officer, with the mission's key) reads
    where the defender is; the delivery carries it, sealed under the keyring,
    until it is sent and deleted. No conversation is looked up or touched.

    Args:
        render: (language, reference, text) -> the message the defender sees.

    Raises:
        IllegalTransition: the case is closed (reopen it first).
        DuressRefused: the defender's chat saw the duress word (the case is flagged).
        LookupError: the case has no way back to the defender.
    """
    if case.status == "closed":
        raise IllegalTransition(case.status, "reply", ["reopen"])
    opened_key = case_key(session, cipher, case, keys)
    payload = cipher.open_json(opened_key, "case", case.id, "payload", case.payload_ct)
    language = str(payload.get("language", "en"))
    address = payload.get("return")
    if isinstance(address, dict):
        channel, chat = str(address["channel"]), str(address["chat"])
        sender = str(address["sender"])
        pseudonyms = [d for _, d in cipher.pseudonym_candidates(f"sender:{channel}", sender)]
        if duress_marked(session, channel, pseudonyms):
            # Whoever holds the defender's phone now must not read an officer's message.
            # The desk rolls this back, flags the case and audits the refusal.
            raise DuressRefused(case.reference)
        reply_to: tuple[str, str, str] | None = (sender, case.reference, language)
        conversation_id = None
    else:
        # A case submitted before return addresses: addressed through its conversation.
        conversation = session.get(Conversation, payload.get("conversation"))
        if conversation is None:
            raise LookupError("the defender's conversation no longer exists (deleted or purged)")
        channel, chat = conversation_chat(session, cipher, conversation.id)
        turn = open_turn(cipher, conversation)
        turn.record["reply_to"] = case.reference
        save_turn(cipher, turn)
        language = str(turn.record["flow"].get("lang", language))
        reply_to, conversation_id = None, conversation.id
    add_event(session, cipher, case, "reply", actor, text, now)
    queue_delivery(
        session,
        cipher,
        channel=channel,
        kind="reply",
        chat=chat,
        text=render(language, case.reference, text),
        conversation_id=conversation_id,
        now=now,
        reply_to=reply_to,
    )
    audit.append(session, now, actor, "case.reply", case.reference)
    # Answered: the defender's last answer has had its reply.
    case.answered_at = None
    if case.status != "awaiting_defender":
        change_status(session, case, "await_defender", actor, now)


def transfer(
    session: Session,
    cipher: RecordCipher,
    case: Case,
    keys: KeysAtHand,
    to_mission: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Move a case to another mission: its key and its events' keys are re-sealed to that mission.

    The reason is sealed like the case (to the new mission), so its officers read why.
    """
    if not mission_exists(session, to_mission):
        raise OfficerRefused(f"no mission {to_mission!r} in the directory")
    if to_mission == case.mission_id:
        raise OfficerRefused(f"case {case.reference} is already in {to_mission}")
    dek = case_key(session, cipher, case, keys)
    events = _events(session, case)
    event_keys = {event.id: _event_key(session, cipher, event, keys) for event in events}
    from_mission = case.mission_id
    directory = KeyDirectory(cipher.keyring())
    case.mission_id = to_mission
    case.claimed_by = None
    if case.dek_wrapped is None:
        drop_seals(session, "case", [case.id])
        seal_record_key(session, directory, "case", case.id, case.reference, to_mission, dek, now)
    drop_seals(session, "event", list(event_keys))
    for event_id, key in event_keys.items():
        seal_record_key(session, directory, "event", event_id, event_id, to_mission, key, now)
    # Sealed (by add_event) to the new mission, like the events just moved.
    change_status(session, case, "transfer", actor, now, cipher=cipher, reason=reason)
    audit.append(
        session,
        now,
        actor,
        "case.transfer",
        case.reference,
        **{"from": from_mission, "to": to_mission},
    )
