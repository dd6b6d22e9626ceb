"""The recovery key: generated for security staff to keep offline; the server keeps its public half.

It opens every case and every mission key. `init` creates one when none
exists and writes the private half into the home folder with a loud
warning: it must be moved offline (`keys status` will nag while it is there).

Rotation (`keys recovery rotate --old FILE --out NEWFILE`) makes a new key
active at once, then moves every seal of the old one (cases, events, mission
keys) to the new one in batches, with the old private key at hand. Once no
seal is left on it, the old key is retired: its public half stays listed,
inactive, and nothing is sealed to it any more.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crypto import PrivateKey, export_recovery_key, generate_keypair, load_recovery_key
from intake.errors import RecoveryKeyExists, RecoveryRotationRefused
from intake.keys.directory import KeyDirectory
from intake.keys.holders import (
    KeysAtHand,
    active_recovery_key,
    open_seal,
    put_seal,
    recovery_recipient,
    register_recovery_key,
    trusted_recovery_key,
)
from intake.storage.cases import case_references_by_id
from intake.storage.models import RecoveryKey
from intake.storage.seals import count_seals_to_recipient, seals_to_recipient

RECOVERY_FILE_NAME = "recovery-key.txt"


Pin = Callable[[bytes], None]  # pins a recovery public key in the keyring (keyring_admin)


def create_recovery_key(session: Session, out: Path, now: datetime, pin: Pin) -> str:
    """Generate the recovery key pair, write the private half to `out` (0600), register the public half.

    The keyring pins the new public key (`pin`) before the caller commits: a
    failed commit leaves a pin to a key the database lacks (sealing refuses
    until this is run again), never an active key the keyring does not pin.

    Raises:
        RecoveryKeyExists: one is active already.
        FileExistsError: `out` exists (never overwrite a key file).
    """
    if active_recovery_key(session) is not None:
        raise RecoveryKeyExists("a recovery key is already registered")
    private, public = generate_keypair()
    write_recovery_file(out, private)
    key_id = register_recovery_key(session, public, now)
    pin(public.to_bytes())
    return key_id


def recovery_keys_at_hand(path: Path) -> KeysAtHand:
    """Load the recovery private key from its file (security staff bring it for the operation)."""
    private = load_recovery_key(path.read_bytes())
    return KeysAtHand(recovery_recipient(private.public_key().key_id), private)


# -- rotation --------------------------------------------------------------

RESEAL_BATCH = 200


def write_recovery_file(out: Path, private: PrivateKey) -> None:
    """Write the private half, durably, never over an existing file (0600)."""
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(export_recovery_key(private))
        handle.flush()
        os.fsync(handle.fileno())


def start_recovery_rotation(
    session: Session, old: KeysAtHand, out: Path, now: datetime, pin: Pin
) -> str:
    """Make a new recovery key the active one; returns its key id.

    The new private half is written to `out` before the database changes: a
    crash between the two leaves an unused file, never an active key whose
    private half is lost. From the commit on, new cases are sealed to the new
    key; `reseal_recovery_batch` moves the old key's seals over. The keyring
    pins the new key (`pin`) before the caller commits, as `create_recovery_key` does.

    Raises:
        RecoveryRotationRefused: `old` is not the active recovery key.
        FileExistsError: `out` exists.
    """
    active = active_recovery_key(session)
    if active is None or recovery_recipient(active[0]) != old.recipient:
        raise RecoveryRotationRefused(
            f"{old.recipient} is not the active recovery key (active: {active and active[0]})"
        )
    private, public = generate_keypair()
    write_recovery_file(out, private)
    row = session.get(RecoveryKey, active[0])
    assert row is not None  # noqa: S101 - just read as active
    row.active = False
    session.flush()
    key_id = register_recovery_key(session, public, now)
    pin(public.to_bytes())
    return key_id


def seals_to(session: Session, recipient: str) -> int:
    return count_seals_to_recipient(session, recipient)


def reseal_recovery_batch(
    session: Session,
    directory: KeyDirectory,
    old: KeysAtHand,
    now: datetime,
    limit: int = RESEAL_BATCH,
) -> int:
    """Move up to `limit` seals from the old recovery key to the active one; returns how many.

    Each seal is opened with the old key, sealed to the new key and deleted,
    in the caller's transaction: a killed run leaves each seal on one key or
    the other (or, between the two statements of a rolled-back batch, on the
    old key only), and a rerun takes what is left.

    Raises:
        RecoveryRotationRefused: no active recovery key other than `old`.
        crypto.CryptoError: a seal does not open with the old key.
        UntrustedKey: the active key is not the one the keyring pins.
    """
    active = trusted_recovery_key(session, directory)
    if active is None or recovery_recipient(active[0]) == old.recipient:
        raise RecoveryRotationRefused("no new recovery key is active: start the rotation first")
    new_recipient, new_public = recovery_recipient(active[0]), active[1]
    rows = seals_to_recipient(session, old.recipient, limit)
    references = _case_references(session, [r.record_id for r in rows if r.record_type == "case"])
    for row in rows:
        subject = references.get(row.record_id, row.record_id)
        secret = open_seal(old.private, row, subject)
        # Who can decrypt: the holder of the new recovery key file.
        put_seal(
            session,
            row.record_type,
            row.record_id,
            subject,
            new_recipient,
            1,
            new_public,
            secret,
            now,
        )
        session.delete(row)
    return len(rows)


def _case_references(session: Session, case_ids: list[str]) -> dict[str, str]:
    """Sealed case keys are bound to the case reference; other seals to their record id."""
    return case_references_by_id(session, case_ids)
