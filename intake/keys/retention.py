"""`hrd-intake purge`: retention by crypto-shredding.

What goes:
- cases closed longer than `[retention] closed_case_days` (by `updated_at`,
  which closing sets and nothing but a reopen or a duress flag changes
  afterwards): the case row with its payload, its events, its files, and
  every seal of its data keys. Sealed keys were the only way in; with the
  seals and ciphertexts deleted, not even the recovery key or the mission's
  officers can open it again;
- draft-epoch keys older than `draft_idle_hours` plus one epoch
  (`intake.keys.draft_epochs`), then the rows still wrapped under them
  (conversations and draft files nobody can open any more);
- conversations idle longer than `draft_idle_hours`: the whole conversation
  (draft, files, chat id, message ids, the reply it awaited). It keeps no
  list of cases, so nothing ties it to one; an officer's later reply reaches
  the defender through the case's sealed return address;
- digests of processed platform messages older than
  `[retention] processed_message_days` (only needed against redelivery),
  and of messages the inbox kept (Signal) once answered and sent (a done
  inbox row holds nothing else: no ciphertext, no wrapped key);
- inbox messages the service set aside because they did not open, once
  nothing can open them any more (their KEK version retired or gone). One
  that is tampered stays (not ours to destroy blindly: keys verify names it);
- seals whose case or event no longer exists.

SQLite runs with `secure_delete` (deleted rows are overwritten in the file)
and the write-ahead log is checkpointed and truncated afterwards, so old page
images go too. On PostgreSQL deleted tuples linger until VACUUM; run it after
a purge. Database backups still hold closed cases (that is what the retention
epochs of issue 6's "going further" are for); drafts in them stop opening
when their draft-epoch keys are destroyed.

Every step is conditional on what was read (a case reopened, a defender who
wrote again, between reading and deleting, is left alone), and each batch is
its own transaction, so a purge can run beside the service and be rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError, KeyNotFound, KeyRetired
from intake.config import RetentionSettings
from intake.keys.draft_epochs import DraftEpochs
from intake.storage import inbox
from intake.storage import purge as store
from intake.storage.cases import event_ids_of_cases
from intake.storage.checkins import has_checkin
from intake.storage.conversation_record import open_turn
from intake.storage.conversations import delete_drafts_before_epoch
from intake.storage.counts import count_processed_messages_before
from intake.storage.models import Conversation
from intake.storage.records import RecordCipher
from intake.storage.seals import delete_orphan_seals, delete_seals_of_records

BATCH = 500


@dataclass
class PurgeReport:
    """Counts only: the audit log gets this and nothing else."""

    cases: int = 0
    case_events: int = 0
    case_attachments: int = 0
    conversations: int = 0
    drafts: int = 0
    draft_attachments: int = 0
    processed_messages: int = 0
    inbox_messages: int = 0  # digests of kept messages (Signal), answered and sent
    unopenable_inbox_messages: int = 0  # set aside, their KEK version destroyed
    orphan_seals: int = 0
    unreadable_conversations: int = 0
    draft_epoch_keys: int = 0
    shredded_conversations: int = 0
    shredded_draft_attachments: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def purge(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    retention: RetentionSettings,
    draft_idle: timedelta,
    new_flow_state: Callable[[str], dict[str, Any]],
    now: datetime,
    dry_run: bool = False,
    draft_epochs: DraftEpochs | None = None,
) -> PurgeReport:
    """Destroy what retention no longer allows; with `dry_run`, only count it."""
    report = PurgeReport()
    if draft_epochs is not None:
        shred_draft_epochs(sessions, draft_epochs, now, dry_run, report)
    closed_before = now - timedelta(days=retention.closed_case_days)  # closed earlier: expired
    _purge_cases(sessions, closed_before, dry_run, report)
    _purge_conversations(
        sessions, cipher, now - draft_idle, closed_before, new_flow_state, dry_run, report
    )
    cutoff = now - timedelta(days=retention.processed_message_days)
    with sessions.begin() as session:
        if dry_run:
            report.processed_messages = count_processed_messages_before(session, cutoff)
        else:
            report.processed_messages = store.delete_processed_messages_before(session, cutoff)
            report.orphan_seals = delete_orphan_seals(session)
        report.inbox_messages = inbox.purge_done_before(session, cutoff, dry_run)
    report.unopenable_inbox_messages = _purge_unopenable_inbox(sessions, cipher, dry_run)
    return report


def _purge_unopenable_inbox(
    sessions: sessionmaker[Session], cipher: RecordCipher, dry_run: bool
) -> int:
    """Delete set-aside inbox rows whose data key nobody can unwrap any more; how many.

    The keyring file is read first: a holder that has not reloaded since a
    rotation would take a row under the new version for one under a destroyed one.
    """
    with sessions() as session:
        rows = inbox.set_aside_rows(session)
    if rows:
        cipher.fresh_keyring()
    doomed: list[str] = []
    for row in rows:
        if row.dek_wrapped is None:
            doomed.append(row.id)  # nothing sealed left to read
            continue
        try:
            cipher.open_key(inbox.RECORD_TYPE, row.id, row.dek_wrapped)
        except (KeyNotFound, KeyRetired):
            doomed.append(row.id)  # its KEK version is destroyed: it opens for nobody
        except CryptoError:
            continue  # tampered: kept for staff, named by keys verify
    if dry_run or not doomed:
        return len(doomed)
    with sessions.begin() as session:
        return inbox.delete_set_aside(session, doomed)


def checkpoint_sqlite(engine: Engine) -> bool:
    """Fold the write-ahead log into the database file and truncate it (SQLite only).

    Returns False when a reader kept part of the log in use (run again later).
    """
    return store.checkpoint_wal(engine)


def shred_draft_epochs(
    sessions: sessionmaker[Session],
    draft_epochs: DraftEpochs,
    now: datetime,
    dry_run: bool = False,
    report: PurgeReport | None = None,
) -> PurgeReport:
    """Destroy draft-epoch keys past the window, then the rows they wrapped.

    The keys go first: that is what makes every copy of those rows (backups,
    WAL, dead tuples) unreadable; the rows are only clutter afterwards. The
    running service calls this hourly, `hrd-intake purge` too.
    """
    report = report or PurgeReport()
    if dry_run:
        doomed = draft_epochs.window.doomed(draft_epochs.current(), now)
        report.draft_epoch_keys += len(doomed)
        return report
    report.draft_epoch_keys += len(draft_epochs.destroy_expired(now))
    oldest = draft_epochs.oldest_kept()
    if oldest is not None:
        with sessions.begin() as session:
            conversations, files = delete_drafts_before_epoch(session, oldest)
        report.shredded_conversations += conversations
        report.shredded_draft_attachments += files
    return report


def _batches(
    sessions: sessionmaker[Session], read: Callable[[Session, str, int], list[str]]
) -> Iterator[list[str]]:
    """Ids `read(session, after, limit)` gives (ascending) in batches, each in a fresh session."""
    last = ""
    while True:
        with sessions() as session:
            ids = read(session, last, BATCH)
        if not ids:
            return
        yield ids
        last = ids[-1]


def _purge_cases(
    sessions: sessionmaker[Session],
    closed_before: datetime,
    dry_run: bool,
    report: PurgeReport,
) -> None:
    def read(session: Session, after: str, limit: int) -> list[str]:
        return store.expired_case_ids(session, closed_before, after, limit)

    for ids in _batches(sessions, read):
        with sessions.begin() as session:
            events = event_ids_of_cases(session, ids)
            files = store.count_attachments_of_cases(session, ids)
            if dry_run:
                report.cases += len(ids)
                report.case_events += len(events)
                report.case_attachments += files
                continue
            # Only cases still closed and expired now (one reopened meanwhile stays).
            gone = store.delete_expired_cases(session, ids, closed_before)
            if len(gone) != len(ids):
                files = store.count_attachments_of_cases(session, gone)
                events = event_ids_of_cases(session, gone)
            # Events and files go with their case (ON DELETE CASCADE); the sealed keys
            # are not in those rows, so they are deleted here, in the same transaction.
            store.delete_events_of_cases(session, gone)
            store.delete_attachments_of_cases(session, gone)
            _drop_seals(session, "case", gone)
            _drop_seals(session, "event", events)
            report.cases += len(gone)
            report.case_events += len(events)
            report.case_attachments += files


def _purge_conversations(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    cutoff: datetime,
    closed_before: datetime,
    new_flow_state: Callable[[str], dict[str, Any]],
    dry_run: bool,
    report: PurgeReport,
) -> None:
    def read(session: Session, after: str, limit: int) -> list[str]:
        return store.idle_conversation_ids(session, cutoff, after, limit)

    for ids in _batches(sessions, read):
        with sessions.begin() as session:
            for conversation_id in ids:
                conversation = session.get(Conversation, conversation_id)
                if conversation is None:
                    continue
                _expire_conversation(
                    session, cipher, conversation, closed_before, new_flow_state, dry_run, report
                )


def _expire_conversation(
    session: Session,
    cipher: RecordCipher,
    conversation: Conversation,
    closed_before: datetime,
    new_flow_state: Callable[[str], dict[str, Any]],
    dry_run: bool,
    report: PurgeReport,
) -> None:
    seen = conversation.last_seen_at
    files = store.count_draft_attachments(session, conversation.id)
    try:
        open_turn(cipher, conversation)
    except (KeyNotFound, KeyRetired):
        pass  # its draft epoch is gone: nothing left to read, destroy the row
    except CryptoError:
        # Not ours to destroy blindly: keys verify names it.
        report.unreadable_conversations += 1
        return
    # A running safety check-in needs its conversation to ask and to be answered.
    if has_checkin(session, conversation.id):
        return
    # No case list: an idle conversation goes whole (cases reach the defender
    # through their sealed return address).
    report.conversations += 1
    report.draft_attachments += files
    if not dry_run:
        session.expunge(conversation)
        # Its draft files and queued messages go with it (ON DELETE CASCADE).
        store.delete_conversation_if_unchanged(session, conversation.id, seen)


def _drop_seals(session: Session, record_type: str, ids: list[str]) -> None:
    for start in range(0, len(ids), BATCH):
        delete_seals_of_records(session, record_type, ids[start : start + BATCH])
