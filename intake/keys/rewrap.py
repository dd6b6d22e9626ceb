"""Re-wrapping data keys under the primary KEK, in batches, beside the live service.

Payloads are never touched: only `dek_wrapped` and `kek_version` change, so a
record's fields open with the same data key before and after.

Crash safety lives in the data, not in a progress file: each row names its
KEK version, and a batch is one transaction that selects rows still on an old
version, rewraps them and commits. A run killed at any point leaves every row
either wholly old (wrapped key and version column from before) or wholly new;
a rerun selects what is left, and once nothing is left a rerun is a no-op.

Concurrency with the service is optimistic: the UPDATE only applies where the
row still holds the exact wrapped key this batch read (`dek_wrapped` equal, a
fresh random nonce makes every wrap unique) and the same version. A row the
service rewrote meanwhile (a channel state value replaced, a case sealed) is
left alone: if it is still on an old version (a service that has not yet
reloaded the keyring), a later batch takes it; otherwise there is nothing to
do. Overwriting it would pair a stale data key with the new ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import (
    WRAPPED_TABLES,
    WrappedTable,
    kek_versions_other_than,
    records_not_on,
    rows_on_kek_version,
    update_wrapped_keys,
)

DEFAULT_BATCH = 1000
# Rows that do not unwrap are skipped (and named) rather than retried forever;
# past this many the keyring is probably wrong, so stop instead.
MAX_FAILURES = 100
# A round walks every old version; another round catches rows a service that
# had not reloaded the keyring wrote under an old version meanwhile.
MAX_ROUNDS = 10


@dataclass(frozen=True)
class RewrapFailure:
    """A record whose data key did not unwrap: named, never shown.

    Attributes:
        table: where it is.
        record_id: which record.
        error: the crypto error's class name (`Tampered`, `Misplaced`, `KeyRetired`...).
    """

    table: str
    record_id: str
    error: str


@dataclass
class RewrapReport:
    """What a run did.

    Attributes:
        rewrapped: rows moved to the primary version.
        raced: rows changed by the service between read and write, left to it
            or to a later batch.
        failures: rows that did not unwrap (left on their version).
        remaining: rows still on an old version at the end (failures included).
        stopped: True when the run gave up after `MAX_FAILURES` failures.
    """

    rewrapped: int = 0
    raced: int = 0
    failures: list[RewrapFailure] = field(default_factory=list)
    remaining: int = 0
    stopped: bool = False


@dataclass(frozen=True)
class BatchResult:
    selected: int
    rewrapped: int
    failures: tuple[RewrapFailure, ...]


def rewrap_batch(
    session: Session,
    cipher: RecordCipher,
    spec: WrappedTable,
    version: int,
    limit: int,
    skip: list[tuple[object, ...]] | None = None,
) -> BatchResult:
    """Rewrap up to `limit` rows of one table still on `version`, in the caller's transaction.

    Args:
        skip: primary keys of rows known not to unwrap (left out of the selection).
    """
    rows = rows_on_kek_version(session, spec, version, limit, skip)
    failures = []
    changes: list[tuple[Any, ...]] = []
    for row in rows:
        record_id = spec.record_id(row)
        try:
            new_wrapped, new_version = cipher.rewrap_key(
                spec.record_type, record_id, row.dek_wrapped
            )
        except CryptoError as exc:
            failures.append(RewrapFailure(spec.name, record_id, type(exc).__name__))
            continue
        changes.append((new_wrapped, new_version, *spec.key_of(row), version, row.dek_wrapped))
    rewrapped = 0
    if changes:
        rewrapped = update_wrapped_keys(session, spec, changes)
    return BatchResult(len(rows), rewrapped, tuple(failures))


def old_versions(session: Session, primary: int) -> list[tuple[WrappedTable, int]]:
    """(table, version) pairs with rows on a version other than the primary."""
    work: list[tuple[WrappedTable, int]] = []
    for spec in WRAPPED_TABLES:
        versions = kek_versions_other_than(session, spec, primary)
        work.extend((spec, version) for version in sorted(versions))
    return work


def rewrap_all(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    batch: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> RewrapReport:
    """Rewrap every keyring-wrapped record not on the primary version, batch by batch.

    Each batch commits on its own (see the module docstring: a crash loses at
    most the batch in flight, which the next run redoes).

    Args:
        on_progress: called after each batch with how many rows it rewrapped.
    """
    report = RewrapReport()
    skip: dict[str, list[tuple[object, ...]]] = {}
    for _ in range(MAX_ROUNDS):
        primary = cipher.keyring().primary("kek")
        with sessions() as session:
            work = old_versions(session, primary)
        progressed = False
        for spec, version in work:
            while not report.stopped:
                skipped = skip.setdefault(spec.name, [])
                with sessions.begin() as session:
                    result = rewrap_batch(session, cipher, spec, version, batch, skipped)
                report.rewrapped += result.rewrapped
                report.raced += result.selected - len(result.failures) - result.rewrapped
                report.failures.extend(result.failures)
                skipped.extend(_keys_of(spec, result.failures))
                report.stopped = len(report.failures) >= MAX_FAILURES
                if on_progress is not None and result.rewrapped:
                    on_progress(result.rewrapped)
                progressed = progressed or result.rewrapped > 0
                if result.rewrapped == 0:
                    break  # done, or only rows the service keeps changing: next round
        if not progressed or report.stopped:
            break
    with sessions() as session:
        report.remaining = records_not_on(session, cipher.keyring().primary("kek"))
    return report


def _keys_of(spec: WrappedTable, failures: tuple[RewrapFailure, ...]) -> list[tuple[object, ...]]:
    if len(spec.key_columns) == 1:
        return [(failure.record_id,) for failure in failures]
    return [tuple(failure.record_id.split("/", len(spec.key_columns) - 1)) for failure in failures]
