"""`keys verify` for sealed records: cases, their events and files, mission keys.

Without the recovery key only the structure is checked (who each record is
sealed to): every sealed case and event must be sealed to the active
recovery key and, when its mission has a key, to one of that mission's key
versions; every active officer must hold a sealed copy of every version of
their mission's key. With the recovery key, every seal is opened too: the
recovery seal gives the data key, which must open the payload, the files and
the event body, and every mission seal must open (with the mission private
key, itself opened by the recovery key) to the same data key; every mission
key must open and match its public key.
"""

from __future__ import annotations

import base64
import hmac
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError, DataKey, PrivateKey
from intake.errors import NoKeyAtHand, WrongRecoveryKey
from intake.keys.holders import (
    KeysAtHand,
    active_recovery_key,
    mission_key_record,
    officer_recipient,
    open_seal,
    recovery_recipient,
)
from intake.keys.verify import VerifyReport
from intake.storage.cases import attachments_of_case
from intake.storage.mission_keys import mission_key_refs, missions_with_keys
from intake.storage.models import KeySeal
from intake.storage.officers import active_officers
from intake.storage.pages import (
    SealedCase,
    SealedEvent,
    event_pages,
    mission_key_pages,
    sealed_case_pages,
)
from intake.storage.records import RecordCipher
from intake.storage.seals import officer_mission_key_seals, seals_of_records


class _SealChecker:
    """Checks the seals of one page of records, caching mission private keys."""

    def __init__(
        self, report: VerifyReport, recovery: KeysAtHand | None, recovery_name: str | None
    ) -> None:
        self.report = report
        self.recovery = recovery
        self.recovery_name = recovery_name
        self.missions_with_keys: set[str] = set()
        self._mission_keys: dict[tuple[str, int], PrivateKey | None] = {}

    def mission_key(self, session: Session, mission_id: str, version: int) -> PrivateKey | None:
        key = (mission_id, version)
        if key not in self._mission_keys:
            assert self.recovery is not None  # noqa: S101 - only called with the recovery key
            try:
                self._mission_keys[key] = self.recovery.mission_private_key(
                    session, mission_id, version
                )
            except (NoKeyAtHand, CryptoError):
                self._mission_keys[key] = None  # reported with the mission keys
        return self._mission_keys[key]

    def data_key(
        self,
        session: Session,
        record_type: str,
        record_id: str,
        subject: str,
        mission_id: str,
        seals: Sequence[KeySeal],
    ) -> DataKey | None:
        """Check who the record is sealed to; with the recovery key, open every seal.

        Returns the data key when the recovery key opened it, else None.
        """
        report = self.report
        recipients = {row.recipient for row in seals}
        if self.recovery_name is None or self.recovery_name not in recipients:
            report.fail(record_type, subject, "not sealed to the active recovery key")
        mission = f"mission:{mission_id}"
        if mission_id in self.missions_with_keys and mission not in recipients:
            report.fail(
                record_type, subject, f"not sealed to a key of {mission_id} (keys mission reseal)"
            )
        if self.recovery is None:
            report.unchecked[record_type] += 1
            return None
        opened: dict[str, bytes] = {}
        for row in seals:
            if row.recipient == self.recovery.recipient:
                private: PrivateKey | None = self.recovery.private
            elif row.recipient.startswith("mission:"):
                private = self.mission_key(
                    session, row.recipient.removeprefix("mission:"), row.recipient_version
                )
            else:
                continue  # a retired recovery key's seal: nothing at hand opens it
            name = f"{row.recipient} v{row.recipient_version}"
            if private is None:
                report.fail(record_type, subject, f"seal to {name}: its key does not open")
                continue
            try:
                opened[name] = open_seal(private, row, subject)
            except CryptoError as exc:
                report.fail(record_type, subject, f"seal to {name}: {type(exc).__name__}")
        if not opened:
            return None
        first = next(iter(opened.values()))
        if any(not hmac.compare_digest(first, other) for other in opened.values()):
            report.fail(record_type, subject, "its seals hold different data keys")
            return None
        return DataKey(first)


def _seals(session: Session, record_type: str, ids: Sequence[str]) -> dict[str, list[KeySeal]]:
    found: dict[str, list[KeySeal]] = defaultdict(list)
    for row in seals_of_records(session, record_type, ids):
        found[row.record_id].append(row)
    return found


def verify_sealed_records(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    report: VerifyReport,
    recovery: KeysAtHand | None,
    sample: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Check every sealed case, event and mission key (or a sample of each).

    Raises:
        WrongRecoveryKey: `recovery` is not the active recovery key.
    """
    with sessions() as session:
        active = active_recovery_key(session)
        missions = missions_with_keys(session)
    active_name = recovery_recipient(active[0]) if active else None
    if recovery is not None and recovery.recipient != active_name:
        raise WrongRecoveryKey(recovery.recipient.removeprefix("recovery:"), active and active[0])
    checker = _SealChecker(report, recovery, active_name)
    checker.missions_with_keys = missions

    def open_case_row(session: Session, row: SealedCase, dek: DataKey) -> None:
        _open_case(session, cipher, report, row.id, row.reference, dek, row.payload_ct)

    def open_event_row(_: Session, row: SealedEvent, dek: DataKey) -> None:
        try:
            cipher.open(dek, "event", row.id, "body", row.body_ct)
        except CryptoError as exc:
            report.fail("event", row.id, type(exc).__name__)

    cases = sealed_case_pages(sessions, sample)
    _verify_pages(cases, "case", checker, lambda r: r.reference, open_case_row, on_progress)
    events = event_pages(sessions, sample)
    _verify_pages(events, "event", checker, lambda r: r.id, open_event_row, on_progress)
    _verify_mission_keys(sessions, checker, sample)
    _verify_officer_seals(sessions, report)


class _Sealed(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def mission_id(self) -> str: ...


_Row = TypeVar("_Row", bound=_Sealed)


def _verify_pages(
    pages: Iterable[tuple[Session, list[_Row]]],
    record_type: str,
    checker: _SealChecker,
    label: Callable[[_Row], str],
    open_body: Callable[[Session, _Row, DataKey], None],
    on_progress: Callable[[int], None] | None,
) -> None:
    """Count each record, check its seals and, where they give the data key, open it."""
    report = checker.report
    for session, rows in pages:
        seals = _seals(session, record_type, [row.id for row in rows])
        for row in rows:
            report.checked[record_type] += 1
            dek = checker.data_key(
                session, record_type, row.id, label(row), row.mission_id, seals.get(row.id, [])
            )
            if dek is not None:
                open_body(session, row, dek)
        if on_progress is not None:
            on_progress(len(rows))


def _open_case(
    session: Session,
    cipher: RecordCipher,
    report: VerifyReport,
    case_id: str,
    reference: str,
    dek: DataKey,
    payload_ct: bytes,
) -> None:
    """The payload opens, and so does every file it lists (their keys are in it)."""
    try:
        payload = cipher.open_json(dek, "case", case_id, "payload", payload_ct)
    except (CryptoError, ValueError) as exc:
        report.fail("case", reference, type(exc).__name__)
        return
    files = payload.get("attachments", {}) if isinstance(payload, dict) else {}
    rows = {row.id: row for row in attachments_of_case(session, case_id)}
    for attachment_id, encoded in files.items():
        report.checked["attachment"] += 1
        row = rows.get(attachment_id)
        if row is None:
            report.fail("attachment", attachment_id, f"listed by case {reference} but missing")
            continue
        try:
            file_key = DataKey(base64.b64decode(encoded))
            cipher.open(file_key, "attachment", row.id, "meta", row.meta_ct)
            cipher.open(file_key, "attachment", row.id, "data", row.data_ct)
        except (CryptoError, ValueError) as exc:
            report.fail("attachment", attachment_id, type(exc).__name__)


def _verify_mission_keys(
    sessions: sessionmaker[Session], checker: _SealChecker, sample: int | None
) -> None:
    report = checker.report
    for session, rows in mission_key_pages(sessions, sample):
        names = [mission_key_record(row.mission_id, row.version) for row in rows]
        seals = _seals(session, "mission_key", names)
        for row, name in zip(rows, names, strict=True):
            report.checked["mission_key"] += 1
            recipients = {seal.recipient for seal in seals.get(name, [])}
            if checker.recovery_name not in recipients:
                report.fail("mission_key", name, "not sealed to the active recovery key")
            if checker.recovery is None:
                report.unchecked["mission_key"] += 1
                continue
            private = checker.mission_key(session, row.mission_id, row.version)
            if private is None:
                report.fail("mission_key", name, "does not open with the recovery key")
            elif private.public_key().to_bytes() != row.public_key:
                report.fail("mission_key", name, "opens to a key that is not its public key")


def _verify_officer_seals(sessions: sessionmaker[Session], report: VerifyReport) -> None:
    """Every active officer holds a sealed copy of every version of their mission's key."""
    with sessions() as session:
        versions: dict[str, list[int]] = defaultdict(list)
        for ref in mission_key_refs(session):
            versions[ref.mission_id].append(ref.version)
        held = {(seal.recipient, seal.record_id) for seal in officer_mission_key_seals(session)}
        for officer in active_officers(session):
            report.checked["officer"] += 1
            for version in versions.get(officer.mission_id, []):
                record = mission_key_record(officer.mission_id, version)
                if (officer_recipient(officer.id), record) not in held:
                    report.fail("officer", officer.id, f"holds no sealed copy of {record}")
