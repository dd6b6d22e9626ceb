"""The recovery key: generated for security staff to keep offline; the server keeps its public half.

It opens every case and every mission key. `init` creates one when none
exists and writes the private half into the home folder with a loud
warning: it must be moved offline (`keys status` will nag while it is there).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from crypto import export_recovery_key, generate_keypair, load_recovery_key
from intake.keyholders import (
    KeysAtHand,
    active_recovery_key,
    recovery_recipient,
    register_recovery_key,
)

RECOVERY_FILE_NAME = "recovery-key.txt"


class RecoveryKeyExists(Exception):
    """There is already an active recovery key (rotating it is a separate operation)."""


def create_recovery_key(session: Session, out: Path, now: datetime) -> str:
    """Generate the recovery key pair, write the private half to `out` (0600), register the public half.

    Raises:
        RecoveryKeyExists: one is active already.
        FileExistsError: `out` exists (never overwrite a key file).
    """
    if active_recovery_key(session) is not None:
        raise RecoveryKeyExists("a recovery key is already registered")
    private, public = generate_keypair()
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(export_recovery_key(private))
        handle.flush()
        os.fsync(handle.fileno())
    return register_recovery_key(session, public, now)


def recovery_keys_at_hand(path: Path) -> KeysAtHand:
    """Load the recovery private key from its file (security staff bring it for the operation)."""
    private = load_recovery_key(path.read_bytes())
    return KeysAtHand(recovery_recipient(private.public_key().key_id), private)
