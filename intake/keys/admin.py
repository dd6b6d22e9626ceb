"""Security staff's key desk: keyring versions, the recovery key, mission keys, rewrap, verify, purge.

Every key operation security staff run comes here from the CLI: the desk
decides (refusals are audited before they are raised), runs the step in its
transactions and writes the audit entries; the CLI asks and prints. The
recovery-key rotation is a small state machine kept here:

    start   the file given is the active recovery key: a new key becomes
            active (its private half written to --out first), entry
            `key.recovery.rotate`;
    resume  the file given is an inactive key that still holds seals: the
            rotation was interrupted, carry on;
    reseal  seals move from the old key to the active one in batches (each a
            transaction: a killed run resumes where it stopped);
    retire  no seal is left on the old key: entry `key.recovery.retire`.

Who can decrypt what is said in the modules doing the work (`recovery`,
`mission_keys`, `holders`, `rewrap`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError, KeyKind, KeyNotFound, load_keyring
from intake.errors import (
    NoKeyAtHand,
    OfficerRefused,
    RecoveryKeyExists,
    RecoveryRotationRefused,
    Refused,
    RetireRefused,
)
from intake.keys.directory import DirectoryReport, KeyDirectory, authenticate_rows
from intake.keys.holders import KeysAtHand, active_recovery_key, reseal_to_mission
from intake.keys.keyring_admin import (
    pin_recovery_key,
    retire_version,
    rotate_keyring,
    update_keyring,
)
from intake.keys.mission_keys import rotate_mission_key
from intake.keys.recovery import (
    create_recovery_key,
    reseal_recovery_batch,
    seals_to,
    start_recovery_rotation,
)
from intake.keys.rewrap import RewrapReport, rewrap_all
from intake.storage.audit import AuditTrail
from intake.storage.mission_keys import active_recovery_key_row
from intake.storage.models import Mission
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import records_not_on

__all__ = ["KeyDesk", "RecoveryRotation"]

OPERATOR = "operator"


@dataclass(frozen=True)
class RecoveryRotation:
    """Where a recovery rotation stands after `begin_recovery_rotation`.

    Attributes:
        old: the recipient name of the key being replaced.
        new_key_id: the key started now, or None when an interrupted rotation resumes.
        pending: seals still on the old key.
    """

    old: str
    new_key_id: str | None
    pending: int


class KeyDesk:
    """Key operations, each with its audit entries (refusals included)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        trail: AuditTrail,
        clock: Callable[[], datetime],
        keyring_path: Path,
        keyring_passphrase: Callable[[], bytes],
    ) -> None:
        self._sessions = sessions
        self._trail = trail
        self._clock = clock
        self._keyring_path = keyring_path
        self._passphrase = keyring_passphrase

    # -- keyring versions ---------------------------------------------------

    def rotate_keyring(self, kind: KeyKind) -> int:
        """A new primary version of `kind` in the keyring file (the service reloads it).

        Raises:
            Refused: the keyring file does not open.
        """
        now = self._clock()
        try:
            version = rotate_keyring(self._keyring_path, self._passphrase(), kind, now)
        except CryptoError as exc:
            raise Refused(f"cannot rotate: {exc}") from exc
        self._audit(now, OPERATOR, f"key.{kind}.rotate", kind, version=version)
        return version

    def retire(self, kind: KeyKind, version: int, grace: timedelta) -> bool:
        """Destroy a version's material; False when it was retired already.

        Raises:
            RetireRefused: still needed (audited).
            Refused: no such version.
        """
        now = self._clock()
        subject = f"{kind}:{version}"
        with self._sessions() as session:
            try:
                retired = retire_version(
                    self._keyring_path, self._passphrase(), session, kind, version, now, grace
                )
            except KeyNotFound as exc:
                raise Refused(str(exc)) from exc
            except RetireRefused as exc:
                session.rollback()
                self._refuse(OPERATOR, f"key.{kind}.retire", subject, exc)
        if retired:
            self._audit(now, OPERATOR, f"key.{kind}.retire", subject, version=version)
        return retired

    # -- recovery key -------------------------------------------------------

    def create_recovery(self, out: Path) -> str:
        """Create the recovery key pair (private half to `out` only); returns its key id.

        Raises:
            RecoveryKeyExists: one is active already.
            Refused: `out` exists.
        """
        now = self._clock()
        with self._sessions.begin() as session:
            try:
                key_id = create_recovery_key(session, out, now, self.pin)
            except RecoveryKeyExists as exc:
                raise RecoveryKeyExists(f"{exc}; rotating it is `keys recovery rotate`") from exc
            except FileExistsError:
                raise Refused(f"{out} exists: refusing to overwrite a key file") from None
            self._trail.append(session, now, OPERATOR, "key.recovery.create", key_id)
        self._trail.synced()
        return key_id

    def begin_recovery_rotation(self, old: KeysAtHand, out: Path | None) -> RecoveryRotation:
        """Start a rotation with the active key's file, or resume one with an inactive key's.

        Raises:
            RecoveryRotationRefused: no --out to start, `out` exists, or the file
                is neither the active key nor holds any seal.
        """
        now = self._clock()
        with self._sessions.begin() as session:
            active = active_recovery_key(session)
            new_id: str | None = None
            if active is not None and f"recovery:{active[0]}" == old.recipient:
                if out is None:
                    raise RecoveryRotationRefused(
                        "starting a rotation needs --out NEWFILE for the new private half"
                    )
                try:
                    new_id = start_recovery_rotation(session, old, out, now, self.pin)
                except FileExistsError:
                    raise RecoveryRotationRefused(
                        f"{out} exists: refusing to overwrite a key file (left by an attempt"
                        " interrupted before the new key was registered? `keys status` shows the"
                        " active key; if it is not that file's, destroy the file and retry)"
                    ) from None
                self._trail.append(
                    session,
                    now,
                    old.recipient,
                    "key.recovery.rotate",
                    new_id,
                    replaces=old.recipient,
                )
            elif not seals_to(session, old.recipient):
                raise RecoveryRotationRefused(
                    f"{old.recipient} is neither the active recovery key nor holds any seal"
                    " (already rotated and retired?)"
                )
            pending = seals_to(session, old.recipient)
        self._trail.synced()
        return RecoveryRotation(old.recipient, new_id, pending)

    def finish_recovery_rotation(self, old: KeysAtHand, advance: Callable[[int], None]) -> int:
        """Move every seal of the old key to the active one, then retire it; returns how many.

        Raises:
            RecoveryRotationRefused: a batch failed (the message says after how many).
        """
        moved = 0
        directory = self.directory()
        while True:
            with self._sessions.begin() as session:
                try:
                    count = reseal_recovery_batch(session, directory, old, self._clock())
                except (RecoveryRotationRefused, CryptoError) as exc:
                    session.rollback()
                    raise RecoveryRotationRefused(
                        f"re-sealing stopped after {moved} seals: {exc}"
                    ) from exc
            if not count:
                break
            moved += count
            advance(count)
        self._audit(
            self._clock(),
            old.recipient,
            "key.recovery.retire",
            old.recipient,
            seals_moved=moved,
        )
        return moved

    # -- the key directory --------------------------------------------------

    def directory(self) -> KeyDirectory:
        """The key directory on the keyring file as it is now (this process may have just pinned)."""
        return KeyDirectory(load_keyring(self._keyring_path, self._passphrase()))

    def authenticate(self) -> DirectoryReport:
        """Authenticate the key directory as the database holds it now (trust on first use).

        Gives the keyring an authentication key if it has none, pins the active
        recovery key, and tags every mission and officer key row. Run it with
        the keyring once after upgrading to the key directory (migration
        0010), having checked `keys status`: whatever the database holds at that
        moment becomes trusted. Audited as `key.directory.authenticate`.
        """
        now = self._clock()
        update_keyring(self._keyring_path, self._passphrase(), lambda k: k.with_auth_key())
        with self._sessions.begin() as session:
            active = active_recovery_key_row(session)
            if active is not None:
                self.pin(active.public_key)
            missions, officers = authenticate_rows(session, self.directory())
            report = DirectoryReport(missions, officers, active.key_id if active else None)
            self._trail.append(
                session,
                now,
                OPERATOR,
                "key.directory.authenticate",
                "key directory",
                missions=missions,
                officers=officers,
                recovery_pinned=report.pinned,
            )
        self._trail.synced()
        return report

    def pin(self, public_key: bytes) -> None:
        """Pin this recovery public key in the keyring file (sealing will use no other)."""
        pin_recovery_key(self._keyring_path, self._passphrase(), public_key)

    # -- mission keys -------------------------------------------------------

    def rotate_mission(self, mission_id: str) -> tuple[int, int]:
        """A new version of a mission's key; returns (version, members it is sealed to).

        Raises:
            OfficerRefused: unknown mission.
            NoKeyAtHand: no recovery key to seal it to.
        """
        now = self._clock()
        with self._sessions.begin() as session:
            if session.get(Mission, mission_id) is None:
                raise OfficerRefused(f"no mission {mission_id!r} in the directory")
            version, members = rotate_mission_key(session, self.directory(), mission_id, now)
            self._trail.append(
                session,
                now,
                OPERATOR,
                "key.mission.rotate",
                mission_id,
                version=version,
                members=members,
            )
        self._trail.synced()
        return version, members

    def reseal_mission(self, mission_id: str, keys: KeysAtHand) -> int:
        """Seal a mission's earlier cases to its current key; returns how many records.

        Raises:
            Refused: the mission has no key, or a record does not open (audited).
        """
        now = self._clock()
        with self._sessions.begin() as session:
            try:
                count = reseal_to_mission(session, self.directory(), keys, mission_id, now)
            except (NoKeyAtHand, CryptoError) as exc:
                session.rollback()
                self._refuse(keys.recipient, "key.mission.reseal", mission_id, exc)
            self._trail.append(
                session, now, keys.recipient, "key.mission.reseal", mission_id, records=count
            )
        self._trail.synced()
        return count

    # -- records under the keyring ------------------------------------------

    def rewrap(
        self,
        cipher: RecordCipher,
        batch: int,
        advance: Callable[[int], None],
        pending: int,
    ) -> RewrapReport:
        """Re-wrap every data key under the primary KEK (`pending`: counted before, for the record)."""
        primary = cipher.keyring().primary("kek")
        subject = f"kek:{primary}"
        self._audit(
            self._clock(), OPERATOR, "key.kek.rewrap", subject, phase="start", pending=pending
        )
        report = rewrap_all(self._sessions, cipher, batch, advance)
        self._audit(
            self._clock(),
            OPERATOR,
            "key.kek.rewrap",
            subject,
            phase="end",
            rewrapped=report.rewrapped,
            failures=len(report.failures),
            remaining=report.remaining,
        )
        return report

    def pending_rewrap(self, cipher: RecordCipher) -> int:
        with self._sessions() as session:
            return records_not_on(session, cipher.keyring().primary("kek"))

    def record_verify(
        self, keys: KeysAtHand | None, sample: int | None, checked: int, failures: int
    ) -> None:
        """The audit entry of a `keys verify` run (what was checked, how many failed)."""
        self._audit(
            self._clock(),
            keys.recipient if keys else OPERATOR,
            "key.verify",
            "all" if sample is None else f"sample:{sample}",
            checked=checked,
            failures=failures,
        )

    def record_purge(self, now: datetime, **counts: Any) -> None:
        """The audit entry of a retention purge (settings and counts, no content)."""
        self._audit(now, OPERATOR, "purge", "retention", **counts)

    # -- internals ----------------------------------------------------------

    def _audit(self, now: datetime, actor: str, action: str, subject: str, **detail: Any) -> None:
        with self._sessions.begin() as session:
            self._trail.append(session, now, actor, action, subject, **detail)
        self._trail.synced()

    def _refuse(self, actor: str, action: str, subject: str, exc: Exception) -> NoReturn:
        reason = str(exc)
        self._trail.refusal(self._clock(), actor, action, subject, reason)
        if isinstance(exc, Refused):
            raise exc
        raise Refused(reason) from exc
