"""Who can open what: officers' and the recovery key's unlocking of sealed keys.

Sealing (HPKE) binds each sealed secret to its purpose, subject, recipient
and recipient version through `info`, so a sealed key moved to another case
or recipient does not open. Recipients are named `mission:<id>`,
`officer:<id>` and `recovery:<key id>`.

What is sealed to whom:
- a case's (or a case event's) data key -> its mission's current key and the
  recovery key: mission officers and security staff can read it, the server
  cannot;
- a mission's private key (one per version) -> each member officer's key
  and the recovery key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crypto import (
    CryptoError,
    PrivateKey,
    PublicKey,
    SealContext,
    generate_keypair,
    open_sealed,
    seal,
)
from intake.errors import NoKeyAtHand
from intake.keys.directory import KeyDirectory
from intake.storage.cases import events_of_mission, sealed_cases_of_mission
from intake.storage.mission_keys import active_recovery_key_row, latest_mission_key
from intake.storage.models import KeySeal, MissionKey, RecoveryKey
from intake.storage.seals import delete_seals_of_records, seals_of_record


def mission_recipient(mission_id: str) -> str:
    return f"mission:{mission_id}"


def officer_recipient(officer_id: str) -> str:
    return f"officer:{officer_id}"


def recovery_recipient(key_id: str) -> str:
    return f"recovery:{key_id}"


def mission_key_record(mission_id: str, version: int) -> str:
    return f"{mission_id}/{version}"


def _context(record_type: str, subject: str, recipient: str, version: int) -> SealContext:
    return SealContext(
        purpose=f"{record_type}-key",
        subject=subject,
        recipient=recipient,
        recipient_version=version,
    )


def put_seal(
    session: Session,
    record_type: str,
    record_id: str,
    subject: str,
    recipient: str,
    version: int,
    public: PublicKey,
    secret: bytes,
    now: datetime,
) -> None:
    # Who can decrypt: the holder of `recipient`'s private key, for this subject only.
    sealed = seal(public, secret, _context(record_type, subject, recipient, version))
    session.merge(
        KeySeal(
            record_type=record_type,
            record_id=record_id,
            recipient=recipient,
            recipient_version=version,
            sealed=sealed,
            created_at=now,
        )
    )


def open_seal(private: PrivateKey, row: KeySeal, subject: str) -> bytes:
    """Open one sealed row with its recipient's private key (the context is rebuilt from the row).

    Raises:
        crypto.CryptoError: wrong key, misplaced, tampered.
    """
    context = _context(row.record_type, subject, row.recipient, row.recipient_version)
    return open_sealed(private, row.sealed, context)


def seals_of(session: Session, record_type: str, record_id: str) -> list[KeySeal]:
    return seals_of_record(session, record_type, record_id)


def drop_seals(session: Session, record_type: str, record_ids: Iterable[str]) -> None:
    delete_seals_of_records(session, record_type, list(record_ids))


# -- recovery key ----------------------------------------------------------


def active_recovery_key(session: Session) -> tuple[str, PublicKey] | None:
    """The active recovery key as the database says (for display; seal with `trusted_recovery_key`)."""
    row = active_recovery_key_row(session)
    return None if row is None else (row.key_id, PublicKey.from_bytes(row.public_key))


def trusted_recovery_key(session: Session, directory: KeyDirectory) -> tuple[str, PublicKey] | None:
    """The active recovery key, if the keyring pins it (None: there is none).

    Raises:
        UntrustedKey: the database's active recovery key is not the pinned one.
    """
    row = active_recovery_key_row(session)
    return None if row is None else (row.key_id, directory.recovery_key(row))


def register_recovery_key(session: Session, public: PublicKey, now: datetime) -> str:
    session.add(
        RecoveryKey(key_id=public.key_id, public_key=public.to_bytes(), active=True, created_at=now)
    )
    return public.key_id


# -- mission keys ----------------------------------------------------------


def current_mission_key(session: Session, mission_id: str) -> tuple[int, PublicKey] | None:
    """The mission's newest key as the database says (for display; seal with `trusted_mission_key`)."""
    row = latest_mission_key(session, mission_id)
    return None if row is None else (row.version, PublicKey.from_bytes(row.public_key))


def trusted_mission_key(
    session: Session, directory: KeyDirectory, mission_id: str
) -> tuple[int, PublicKey] | None:
    """The mission's newest key version, if its row's MAC verifies (None: it has no key).

    Raises:
        UntrustedKey: the newest row does not verify (nothing is sealed to an older one instead).
    """
    row = latest_mission_key(session, mission_id)
    return None if row is None else (row.version, directory.mission_key(row))


def new_mission_key(
    session: Session, directory: KeyDirectory, mission_id: str, now: datetime
) -> tuple[int, PrivateKey]:
    """A new version of a mission's key pair (its row tagged), sealed to the recovery key.

    The caller seals it to the member officers.

    Raises:
        NoKeyAtHand: no recovery key.
        UntrustedKey: the recovery key is not the pinned one.
    """
    current = current_mission_key(session, mission_id)
    version = 1 if current is None else current[0] + 1
    private, public = generate_keypair()
    row = MissionKey(
        mission_id=mission_id,
        version=version,
        public_key=public.to_bytes(),
        key_id=public.key_id,
        created_at=now,
    )
    directory.tag_mission(row)
    session.add(row)
    recovery = trusted_recovery_key(session, directory)
    if recovery is None:
        raise NoKeyAtHand("no recovery key: run `hrd-intake keys recovery init --out FILE` first")
    seal_mission_key(
        session, mission_id, version, private, recovery_recipient(recovery[0]), recovery[1], now
    )
    return version, private


def seal_mission_key(
    session: Session,
    mission_id: str,
    version: int,
    private: PrivateKey,
    recipient: str,
    public: PublicKey,
    now: datetime,
) -> None:
    record = mission_key_record(mission_id, version)
    put_seal(session, "mission_key", record, record, recipient, 1, public, private.to_bytes(), now)


@dataclass(frozen=True)
class KeysAtHand:
    """Private keys someone unlocked for this action: an officer's or the recovery key.

    `recipient` names whose key it is; an officer holds `mission_id`.
    """

    recipient: str
    private: PrivateKey
    mission_id: str | None = None
    # Mission private keys already opened with these keys, by their sealed copy: a case
    # page opens a dozen records of one mission key. Keyed by the sealed bytes, and the
    # seal row is read every time, so deleting the copy (revocation) still refuses.
    _opened: dict[bytes, PrivateKey] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    @property
    def is_recovery(self) -> bool:
        return self.recipient.startswith("recovery:")

    def mission_private_key(self, session: Session, mission_id: str, version: int) -> PrivateKey:
        """Open a mission key version with these keys.

        Raises:
            NoKeyAtHand: these keys hold no seal of that mission key.
        """
        if not self.is_recovery and self.mission_id != mission_id:
            raise NoKeyAtHand(f"not a member of {mission_id}")
        record = mission_key_record(mission_id, version)
        row = session.get(KeySeal, ("mission_key", record, self.recipient, 1))
        if row is None:
            raise NoKeyAtHand(f"no sealed copy of {record} for {self.recipient}")
        opened = self._opened.get(row.sealed)
        if opened is None:
            secret = open_sealed(
                self.private, row.sealed, _context("mission_key", record, self.recipient, 1)
            )
            opened = self._opened[row.sealed] = PrivateKey.from_bytes(secret)
        return opened

    def open_record_key(
        self, session: Session, record_type: str, record_id: str, subject: str
    ) -> bytes:
        """Open the data key of a case or event with these keys.

        Raises:
            NoKeyAtHand: no seal these keys can open.
            crypto.CryptoError: a seal exists but does not open (tampered, misplaced).
        """
        seals = seals_of(session, record_type, record_id)
        for row in seals:
            if row.recipient == self.recipient:
                return open_sealed(
                    self.private,
                    row.sealed,
                    _context(record_type, subject, row.recipient, row.recipient_version),
                )
        failure: CryptoError | None = None
        for row in sorted(seals, key=lambda r: -r.recipient_version):
            if not row.recipient.startswith("mission:"):
                continue
            mission_id = row.recipient.removeprefix("mission:")
            try:
                mission_key = self.mission_private_key(session, mission_id, row.recipient_version)
            except NoKeyAtHand:
                continue
            try:
                return open_sealed(
                    mission_key,
                    row.sealed,
                    _context(record_type, subject, row.recipient, row.recipient_version),
                )
            except CryptoError as exc:
                failure = exc
        if failure is not None:
            raise failure
        raise NoKeyAtHand(f"no key at hand opens {record_type} {subject}")


def seal_record_key(
    session: Session,
    directory: KeyDirectory,
    record_type: str,
    record_id: str,
    subject: str,
    mission_id: str,
    secret: bytes,
    now: datetime,
) -> list[str]:
    """Seal a data key to the mission's current key and the recovery key; returns recipients.

    Both keys are checked against the keyring first (`intake.keys.directory`).

    Raises:
        NoKeyAtHand: there is no recovery key (nothing would be able to open it).
        UntrustedKey: the recovery or mission key does not verify: nothing is sealed.
    """
    recipients = []
    recovery = trusted_recovery_key(session, directory)
    mission = trusted_mission_key(session, directory, mission_id)
    if recovery is None:
        raise NoKeyAtHand("no recovery key: run `hrd-intake keys recovery init --out FILE` first")
    put_seal(
        session,
        record_type,
        record_id,
        subject,
        recovery_recipient(recovery[0]),
        1,
        recovery[1],
        secret,
        now,
    )
    recipients.append(recovery_recipient(recovery[0]))
    if mission is not None:
        version, public = mission
        put_seal(
            session,
            record_type,
            record_id,
            subject,
            mission_recipient(mission_id),
            version,
            public,
            secret,
            now,
        )
        recipients.append(mission_recipient(mission_id))
    return recipients


def reseal_to_mission(
    session: Session, directory: KeyDirectory, keys: KeysAtHand, mission_id: str, now: datetime
) -> int:
    """Seal to the mission's current key every case and event of the mission not yet sealed to it.

    Used when a mission gets its first key (its earlier cases were sealed to
    the recovery key only). Returns how many records were re-sealed.

    Raises:
        NoKeyAtHand: the mission has no key, or `keys` cannot open a record.
        UntrustedKey: the mission's key does not verify.
    """
    current = trusted_mission_key(session, directory, mission_id)
    if current is None:
        raise NoKeyAtHand(f"{mission_id} has no key yet: enrol its first officer")
    version, public = current
    recipient = mission_recipient(mission_id)
    records: list[tuple[str, str, str]] = [
        ("case", case.id, case.reference) for case in sealed_cases_of_mission(session, mission_id)
    ]
    records += [("event", event.id, event.id) for event in events_of_mission(session, mission_id)]
    done = 0
    for record_type, record_id, subject in records:
        if session.get(KeySeal, (record_type, record_id, recipient, version)) is not None:
            continue
        secret = keys.open_record_key(session, record_type, record_id, subject)
        put_seal(session, record_type, record_id, subject, recipient, version, public, secret, now)
        done += 1
    return done
