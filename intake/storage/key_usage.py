"""Counting encryptions per KEK version: AES-GCM's random-nonce budget.

A KEK wraps every record's data key with AES-256-GCM and a random 96-bit
nonce; NIST SP 800-38D caps one key at 2**32 such encryptions (beyond that a
nonce repeats with non-negligible probability, which leaks the XOR of two
data keys and the GHASH key). Counting the rows on each version is not
enough: rows are deleted (purge, delivered messages), rewrapped, overwritten
(channel state) or sealed (a case's server copy is cleared at submission),
and every one of those wraps spent a nonce. So the count is kept.

The hot path stays cheap: `RecordCipher` notes each wrap in memory
(`UsageCounter.note`, a dict increment); `track` hooks the session factory so
that a committing transaction first adds the pending counts to `key_usage`
(one `INSERT ... ON CONFLICT DO UPDATE` per KEK version, normally one per
batch), inside that same transaction, just before it commits. If it then rolls
back, the counts go back to pending and ride with the next commit: a wrap is
counted at least once (an aborted wrap whose ciphertext was never stored may
be counted too, which errs on the safe side).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from intake.storage.models import KeyUsage

_PENDING = "hrd_intake.key_usage"  # session.info key: counts drained into this transaction


class UsageCounter:
    """Encryptions made per KEK version and not yet written to the database (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[int] = Counter()

    def note(self, version: int, count: int = 1) -> None:
        with self._lock:
            self._pending[version] += count

    def drain(self) -> dict[int, int]:
        """Take every pending count (the caller writes them or gives them back)."""
        with self._lock:
            taken = dict(self._pending)
            self._pending.clear()
        return taken

    def restore(self, counts: Mapping[int, int]) -> None:
        with self._lock:
            self._pending.update(counts)


def add_encryptions(
    session: Session, counts: Mapping[int, int], now: datetime, kind: str = "kek"
) -> None:
    """Add to the persisted counters, one upsert per version (atomic under concurrency)."""
    dialect = session.connection().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    for version, count in sorted(counts.items()):
        if count <= 0:
            continue
        statement = builder(KeyUsage).values(
            kind=kind, version=version, encryptions=count, updated_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["kind", "version"],
                set_={
                    "encryptions": KeyUsage.encryptions + statement.excluded.encryptions,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )


def encryptions(session: Session, kind: str = "kek") -> dict[int, int]:
    """Version -> encryptions counted so far."""
    rows = session.execute(
        select(KeyUsage.version, KeyUsage.encryptions).where(KeyUsage.kind == kind)
    )
    return {int(version): int(count) for version, count in rows}


def track(
    sessions: sessionmaker[Session], counter: UsageCounter, clock: Callable[[], datetime]
) -> None:
    """Write the counter's pending counts in every transaction these sessions commit."""

    def before_commit(session: Session) -> None:
        counts = counter.drain()
        if not counts:
            return
        session.info[_PENDING] = counts
        add_encryptions(session, counts, clock())

    def after_commit(session: Session) -> None:
        session.info.pop(_PENDING, None)

    def after_rollback(session: Session, *_: Any) -> None:
        counts = session.info.pop(_PENDING, None)
        if counts:
            counter.restore(counts)

    event.listen(sessions, "before_commit", before_commit)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_soft_rollback", after_rollback)
