"""The audit log: hash-chained, append-only, with a head checkpoint kept outside the database.

Every entry carries the SHA-256 of the previous entry's hash and its own
canonical content, so editing, deleting or reordering entries breaks the
chain at the first touched entry. Cutting the last entries off leaves a valid
chain, so the head (count and hash) is also written to a checkpoint file
beside the keyring after each commit, and `verify` compares against it.

Entries name an actor (`officer:<id>`, `operator`, `service`) and a subject
(case reference, mission, officer id); `detail` holds no case content.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.errors import AuditBroken
from intake.storage.models import AuditEntry

GENESIS = "0" * 64
# PostgreSQL advisory lock key of the audit chain (any constant unique to this use).
AUDIT_LOCK = 0x4852_4441_5544_4954 & 0x7FFF_FFFF_FFFF_FFFF


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
) -> str:
    content = json.dumps(
        [seq, at.isoformat(), actor, action, subject, detail], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(f"{prev_hash}:{content}".encode()).hexdigest()


def append(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    subject: str,
    **detail: Any,
) -> AuditEntry:
    """Append an entry in the caller's transaction.

    Concurrent writers queue up instead of forking the chain. On PostgreSQL
    a transaction-scoped advisory lock serialises appends until commit: a row
    lock on the head is not enough, because a writer that waited for it
    still reads the head as it was when its statement began, misses the
    entry just committed, and collides on `seq`. Once the advisory lock is
    ours, the next statement sees every committed entry. SQLite serialises
    writers itself. The primary key on `seq` refuses any fork that would
    slip through.
    """
    if session.connection().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(AUDIT_LOCK)))
    head = session.scalar(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1).with_for_update()
    )
    seq = 1 if head is None else head.seq + 1
    prev_hash = GENESIS if head is None else head.hash
    entry = AuditEntry(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        subject=subject,
        detail=dict(detail),
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, seq, now, actor, action, subject, detail),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Head:
    count: int
    hash: str


def head(session: Session) -> Head:
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    return Head(0, GENESIS) if last is None else Head(last.seq, last.hash)


def write_checkpoint(path: Path, current: Head) -> None:
    """Record the head outside the database (atomic replace, never moving backwards).

    Several processes may share the file (`serve` workers, the CLI, on one
    host): an exclusive lock on a sidecar file makes read-compare-replace one
    step, and each writer has its own temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = read_checkpoint(path)
        if previous is not None and previous.count >= current.count:
            return
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"count": current.count, "hash": current.hash}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        os.close(lock)  # releases the lock


def sync_checkpoint(session: Session, path: Path | None) -> None:
    """Write the committed head to the checkpoint file (call after the commit)."""
    if path is not None:
        write_checkpoint(path, head(session))


def read_checkpoint(path: Path) -> Head | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Head(int(data["count"]), str(data["hash"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditBroken(0, f"the checkpoint file {path} is unreadable: {exc}") from exc


def _entries(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session, checkpoint: Head | None) -> Head:
    """Check the whole chain (and its length against the checkpoint).

    Raises:
        AuditBroken: naming the first entry that is missing, edited or out of order.
    """
    expected_seq, prev_hash = 1, GENESIS
    for entry in _entries(session):
        if entry.seq != expected_seq:
            raise AuditBroken(expected_seq, f"missing (the next entry is {entry.seq})")
        if entry.prev_hash != prev_hash:
            raise AuditBroken(
                entry.seq, "does not follow the previous entry (deleted or reordered)"
            )
        recomputed = entry_hash(
            prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.detail
        )
        if recomputed != entry.hash:
            raise AuditBroken(entry.seq, "content does not match its hash (edited)")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    count = expected_seq - 1
    if checkpoint is not None:
        if count < checkpoint.count:
            raise AuditBroken(
                count + 1,
                f"missing: the checkpoint records {checkpoint.count} entries, the log has {count}",
            )
        reached = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == checkpoint.count))
        if checkpoint.count and reached != checkpoint.hash:
            raise AuditBroken(checkpoint.count, "differs from the checkpoint (log rewritten)")
    return Head(count, prev_hash)


def list_entries(
    session: Session, limit: int = 100, subject: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    return list(session.scalars(query))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


class AuditTrail:
    """The audit log as the layers that act use it: append in a transaction, refusals apart.

    An action's entry goes in the action's own transaction (both commit or
    neither); a refusal is recorded in a transaction of its own, after the
    refused action rolled back, so that what was attempted stays on record.
    The checkpoint file is brought up to date after each commit.
    """

    def __init__(self, sessions: sessionmaker[Session], checkpoint: Path | None) -> None:
        self._sessions = sessions
        self._checkpoint = checkpoint

    def append(
        self, session: Session, now: datetime, actor: str, action: str, subject: str, **detail: Any
    ) -> None:
        append(session, now, actor, action, subject, **detail)

    def refusal(self, now: datetime, actor: str, action: str, subject: str, reason: str) -> None:
        """Record a refused attempt in its own transaction."""
        with self._sessions.begin() as session:
            append(session, now, actor, "refused", subject, attempted=action, reason=reason)
        self.synced()

    def synced(self) -> None:
        """Write the committed head to the checkpoint file (call after each commit)."""
        with self._sessions() as session:
            sync_checkpoint(session, self._checkpoint)
