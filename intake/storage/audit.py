"""The audit log: chained under a keyring key, append-only, with an authenticated head checkpoint.

Every entry carries a chain value over the previous entry's value and its own
canonical content, so editing, deleting or reordering entries breaks the
chain at the first touched entry. The value is HMAC-SHA256 under a key the
keyring derives for the audit chain (`crypto.Authenticator`, purpose "audit
chain"): whoever can write the database, or the home folder, but does not
hold the keyring cannot compute it, so cannot rewrite the chain consistently.
Cutting the last entries off leaves a valid chain, so the head (count and
value) is also written after each commit to a checkpoint file beside the
keyring, with its own HMAC (purpose "audit checkpoint"); `verify` refuses a
non-empty log without a checkpoint, a checkpoint whose MAC does not verify,
and a log that does not reach or match it.

Upgrade (chains begun before the keyring had an authentication key): older
entries carry plain SHA-256 values. The first entry appended with the
keyring's key is the migration point: entries before it verify as SHA-256,
it and every later entry must verify as HMAC, so plain entries appended after
it (by a writer without the keyring) are refused. A plain chain rewritten
from scratch does not match the authenticated checkpoint. `keys authenticate`
gives an old keyring its key; the next entry keys the chain.

Sessions find the keyring through `authenticate_with` (the composition root
registers it); an append to a keyed chain without it refuses to write.

Entries name an actor (`officer:<id>`, `operator`, `service`) and a subject
(case reference, mission, officer id); `detail` holds no case content.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from crypto import Authenticator, Keyring
from intake.errors import AuditBroken
from intake.storage.models import AuditEntry

GENESIS = "0" * 64
# PostgreSQL advisory lock key of the audit chain (any constant unique to this use).
AUDIT_LOCK = 0x4852_4441_5544_4954 & 0x7FFF_FFFF_FFFF_FFFF


_KEYRING = "hrd_intake.audit_keyring"  # session.info key: returns the keyring in use
CHAIN = "audit chain"
CHECKPOINT = "audit checkpoint"


_FRESH = "hrd_intake.audit_fresh_keyring"


def authenticate_with(
    sessions: sessionmaker[Session],
    keyring: Callable[[], Keyring],
    fresh_keyring: Callable[[], Keyring] | None = None,
) -> None:
    """Key the audit chain in every session of this factory (called by the composition root).

    `keyring` is called only when an entry is appended or checked, so a CLI
    command that never writes the log never opens the keyring; `fresh_keyring`
    rereads the file (a key `keys authenticate` has just added).
    """

    def after_begin(session: Session, transaction: SessionTransaction, connection: Any) -> None:
        session.info.setdefault(_KEYRING, keyring)
        if fresh_keyring is not None:
            session.info.setdefault(_FRESH, fresh_keyring)

    event.listen(sessions, "after_begin", after_begin)


def _authenticator(
    session: Session, purpose: str = CHAIN, *, fresh: bool = False
) -> Authenticator | None:
    session.connection()  # begins the transaction: `authenticate_with` has then registered
    keyring = session.info.get(_FRESH if fresh else _KEYRING)
    if keyring is None:
        return None
    auth_key = keyring().auth_key
    return Authenticator(auth_key, purpose) if auth_key else None


def _content(
    seq: int, at: datetime, actor: str, action: str, subject: str, detail: Mapping[str, Any]
) -> str:
    return json.dumps(
        [seq, at.isoformat(), actor, action, subject, detail], sort_keys=True, separators=(",", ":")
    )


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
    auth: Authenticator | None = None,
) -> str:
    """The chain value: HMAC under the keyring's audit key, or (entries made before it) SHA-256."""
    content = _content(seq, at, actor, action, subject, detail)
    if auth is not None:
        return auth.tag(prev_hash, content).hex()
    return hashlib.sha256(f"{prev_hash}:{content}".encode()).hexdigest()


def _is_plain(entry: AuditEntry) -> bool:
    return entry.hash == entry_hash(
        entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.detail
    )


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
    auth = _authenticator(session)
    if auth is None and head is not None and not _is_plain(head):
        auth = _authenticator(session, fresh=True)
    if auth is None and head is not None and not _is_plain(head):
        raise AuditBroken(
            0, "the audit chain is keyed: appending needs the keyring (authenticate_with)"
        )
    entry = AuditEntry(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        subject=subject,
        detail=dict(detail),
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, seq, now, actor, action, subject, detail, auth),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class Head:
    """The log's head (entries, last chain value); `mac` authenticates it in the checkpoint file."""

    count: int
    hash: str
    mac: str | None = None

    def tag(self, auth: Authenticator) -> str:
        return auth.tag(str(self.count), self.hash).hex()


def head(session: Session) -> Head:
    last = session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
    return Head(0, GENESIS) if last is None else Head(last.seq, last.hash)


def write_checkpoint(path: Path, current: Head, auth: Authenticator | None = None) -> None:
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
            document: dict[str, Any] = {"count": current.count, "hash": current.hash}
            if auth is not None:
                # Who can make or check it: the holders of the keyring, not of the home folder.
                document["mac"] = current.tag(auth)
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        os.close(lock)  # releases the lock


def sync_checkpoint(session: Session, path: Path | None) -> None:
    """Write the committed head to the checkpoint file (call after the commit)."""
    if path is not None:
        write_checkpoint(path, head(session), _authenticator(session, CHECKPOINT))


def read_checkpoint(path: Path) -> Head | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        mac = data.get("mac")
        return Head(int(data["count"]), str(data["hash"]), None if mac is None else str(mac))
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


def verify(session: Session, checkpoint: Head | None, *, checkpoint_required: bool = True) -> Head:
    """Check the whole chain, and its length and head against the authenticated checkpoint.

    Args:
        checkpoint: what the checkpoint file holds (`read_checkpoint`), None when missing.
        checkpoint_required: refuse a non-empty log without a checkpoint (the
            default; tests of the chain alone pass False).

    Raises:
        AuditBroken: naming the first entry that is missing, edited or out of
            order, or the checkpoint (missing, not authenticated, not matching).
    """
    auth = _authenticator(session)
    keyed = False  # set at the first HMAC entry: from there on, nothing plain is accepted
    expected_seq, prev_hash = 1, GENESIS
    for entry in _entries(session):
        if entry.seq != expected_seq:
            raise AuditBroken(expected_seq, f"missing (the next entry is {entry.seq})")
        if entry.prev_hash != prev_hash:
            raise AuditBroken(
                entry.seq, "does not follow the previous entry (deleted or reordered)"
            )
        fields = (prev_hash, entry.seq, entry.at, entry.actor, entry.action, entry.subject)
        if auth is not None and entry_hash(*fields, entry.detail, auth) == entry.hash:
            keyed = True
        elif keyed:
            raise AuditBroken(
                entry.seq,
                "its chain value is not the keyring's HMAC (edited, or written without the keyring)",
            )
        elif entry_hash(*fields, entry.detail) != entry.hash:
            raise AuditBroken(entry.seq, "content does not match its hash (edited)")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    count = expected_seq - 1
    if checkpoint is None and count and checkpoint_required:
        raise AuditBroken(
            0, f"no checkpoint file, but the log has {count} entries (truncated or replaced?)"
        )
    if checkpoint is not None:
        _check_checkpoint(session, checkpoint, keyed)
        if count < checkpoint.count:
            raise AuditBroken(
                count + 1,
                f"missing: the checkpoint records {checkpoint.count} entries, the log has {count}",
            )
        reached = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == checkpoint.count))
        if checkpoint.count and reached != checkpoint.hash:
            raise AuditBroken(checkpoint.count, "differs from the checkpoint (log rewritten)")
    return Head(count, prev_hash)


def _check_checkpoint(session: Session, checkpoint: Head, keyed: bool) -> None:
    auth = _authenticator(session, CHECKPOINT)
    if checkpoint.mac is not None:
        if auth is None:
            raise AuditBroken(0, "the checkpoint is authenticated: checking it needs the keyring")
        expected = checkpoint.tag(auth)
        if not secrets.compare_digest(expected, checkpoint.mac):
            raise AuditBroken(0, "the checkpoint's MAC does not verify (forged or edited)")
    elif keyed:
        raise AuditBroken(0, "the checkpoint is not authenticated, but the log is keyed (forged?)")


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
