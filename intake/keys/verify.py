"""`keys verify`: prove that every record still opens with the keys at hand.

Keyring records (drafts, unsealed cases, draft files, deliveries, channel
state) are opened with the server keyring: the data key unwraps, its header
names the same KEK version as the `kek_version` column, and every field
decrypts (the key commitment proves it is the right data key). Sealed records
are checked by `intake.keys.seal_verify`, fully with the recovery key, structurally
without it.

Failures name the record (type and id) and the kind of error, never content:
crypto errors carry no plaintext, and nothing decrypted here is kept or shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError, wrapped_key_kind, wrapped_key_version
from intake.storage.inbox import RECORD_TYPE as INBOX_RECORD
from intake.storage.inbox import set_aside_rows
from intake.storage.pages import PAGE, AnyRow, keyring_record_pages
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import WRAPPED_TABLES, WrappedTable


@dataclass(frozen=True)
class VerifyFailure:
    """One record that does not open, or is not sealed as it should be.

    Attributes:
        record_type: "conversation", "case", "event", "mission_key", "officer"...
        record_id: its id (cases: the reference, as staff know them).
        problem: the error class (`Tampered`, `WrongKey`...) or a short sentence.
    """

    record_type: str
    record_id: str
    problem: str


@dataclass
class VerifyReport:
    """Counts per record type, and every failure.

    Attributes:
        checked: record type -> records opened (or checked) successfully or not.
        failures: what did not open.
        unchecked: record type -> sealed records not opened (no recovery key given).
    """

    checked: Counter[str] = field(default_factory=Counter)
    failures: list[VerifyFailure] = field(default_factory=list)
    unchecked: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, record_type: str, record_id: str, problem: str) -> None:
        self.failures.append(VerifyFailure(record_type, record_id, problem))

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": dict(sorted(self.checked.items())),
            "unchecked": dict(sorted(self.unchecked.items())),
            "failures": [
                {"record_type": f.record_type, "record_id": f.record_id, "problem": f.problem}
                for f in self.failures
            ],
        }


def verify_keyring_records(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    report: VerifyReport,
    sample: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    page: int = PAGE,
) -> None:
    """Open every keyring-wrapped record (or `sample` per table) with the keyring.

    Inbox messages the service set aside (they did not open there) fail too,
    even if they open here: a defender's message is waiting unprocessed.
    """
    for spec in WRAPPED_TABLES:
        for rows in keyring_record_pages(sessions, spec, sample, page):
            for row in rows:
                _check_row(cipher, spec, row, report)
            if on_progress is not None:
                on_progress(len(rows))
    failed = {(f.record_type, f.record_id) for f in report.failures}
    with sessions() as session:
        set_aside = set_aside_rows(session)
    for aside in set_aside:
        if (INBOX_RECORD, aside.id) not in failed:
            report.fail(
                INBOX_RECORD,
                aside.id,
                f"set aside by the {aside.channel} channel, where it did not open;"
                " tried again at the channel's next session (restart serve)",
            )


def _check_row(cipher: RecordCipher, spec: WrappedTable, row: AnyRow, report: VerifyReport) -> None:
    record_id = spec.record_id(row)
    report.checked[spec.record_type] += 1
    wrapped = row.dek_wrapped
    try:
        named = wrapped_key_version(wrapped)
        column = "draft_epoch" if wrapped_key_kind(wrapped) == "draft" else "kek_version"
        says = getattr(row, column, None)
        if named != says:
            report.fail(
                spec.record_type,
                record_id,
                f"{column} column says {says}, the key is wrapped under {named}",
            )
            return
        dek = cipher.open_key(spec.record_type, record_id, wrapped)
        opened = 0
        for field_name, column in spec.fields.items():
            blob = getattr(row, column)
            if blob is None and field_name in spec.optional:
                continue
            # Opened to prove it decrypts; the plaintext is dropped at once.
            cipher.open(dek, spec.record_type, record_id, field_name, blob)
            opened += 1
        if not opened:
            report.fail(spec.record_type, record_id, "holds a data key but no sealed field")
    except CryptoError as exc:
        report.fail(spec.record_type, record_id, type(exc).__name__)
