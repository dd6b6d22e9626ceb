"""Rotating and retiring keyring versions in the keyring file.

The keyring file is read, changed and written back under an exclusive lock
(`<keyring>.lock`, flock), so two staff members rotating at once cannot lose
one another's version. The file is replaced atomically with the same
Argon2id cost it had; a running service notices the new modification time
and reloads it (`intake.core.desks.KeyringHolder`), so a rotation needs no restart.

Retiring destroys a version's material. It is refused while any record still
needs the version, and until the version has been out of primary service for
`[keys] retire_grace_minutes`: a transaction that began before the rotation
may still be wrapping under it. Backups of older keyring files still hold
the material: destroy those as well.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from crypto import (
    KeyEntry,
    KeyKind,
    KeyNotFound,
    Keyring,
    KeyVersion,
    fingerprint,
    keyring_file_params,
    load_keyring,
)
from crypto import save_keyring as _save
from intake.errors import RetireRefused
from intake.storage.counts import (
    count_channel_items_on_pseudonym_version,
    count_conversations_on_pseudonym_version,
    count_inbox_on_pseudonym_version,
    count_processed_messages_before,
)
from intake.storage.wrapped_keys import records_on_version


@contextmanager
def keyring_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the keyring file."""
    descriptor = os.open(
        path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
    )
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def save_keyring(path: Path, keyring: Keyring, passphrase: bytes) -> None:
    """Replace the keyring file atomically, keeping its Argon2id cost."""
    _save(path, keyring, passphrase, keyring_file_params(path))


def update_keyring_file(
    path: Path, passphrase: bytes, change: Callable[[Keyring], Keyring]
) -> Keyring:
    """Read, change and write back the keyring file under the lock; returns the result.

    `change` sees the file as it is now (another process may have changed it);
    when it returns the same keyring, nothing is written.

    Raises:
        crypto.CryptoError: the file does not open.
    """
    with keyring_lock(path):
        keyring = load_keyring(path, passphrase)
        changed = change(keyring)
        if changed is not keyring:
            save_keyring(path, changed, passphrase)
    return changed


def rotate_keyring(path: Path, passphrase: bytes, kind: KeyKind, now: datetime) -> KeyVersion:
    """Add a new primary version of `kind` to the keyring file; returns it.

    Raises:
        crypto.CryptoError: the file does not open.
    """
    with keyring_lock(path):
        keyring = load_keyring(path, passphrase).rotate(kind, now)
        save_keyring(path, keyring, passphrase)
    return keyring.primary(kind)


def update_keyring(
    path: Path, passphrase: bytes, change: Callable[[Keyring], Keyring]
) -> Keyring:
    """Read, change and write back the keyring file under the lock; returns the new keyring.

    Raises:
        crypto.CryptoError: the file does not open.
    """
    with keyring_lock(path):
        keyring = change(load_keyring(path, passphrase))
        save_keyring(path, keyring, passphrase)
    return keyring


def pin_recovery_key(path: Path, passphrase: bytes, public_key: bytes) -> Keyring:
    """Pin this recovery public key in the keyring: from now on sealing uses no other.

    Adds the keyring's authentication key too if it has none yet.
    """
    pin = fingerprint(public_key)
    return update_keyring(path, passphrase, lambda k: k.with_auth_key().with_recovery_pin(pin))


def retirement_blockers(
    session: Session, keyring: Keyring, kind: KeyKind, version: int, now: datetime, grace: timedelta
) -> None:
    """Refuse unless nothing needs `version` any more.

    Raises:
        RetireRefused: it is the primary, became non-primary less than `grace`
            ago, or records still need it (how many, in which tables).
        crypto.KeyNotFound: no such version.
    """
    if all(entry.version != version for entry in keyring.versions(kind)):
        raise KeyNotFound(kind, version)
    if version == keyring.primary(kind):
        raise RetireRefused(kind, version, {}, "it is the primary; rotate to a new version first")
    successor = _successor(keyring, kind, version)
    if now - successor.created_at < grace:
        raise RetireRefused(
            kind,
            version,
            {},
            f"version {successor.version} became the primary at {successor.created_at:%Y-%m-%d %H:%M}"
            f" UTC; a service may still be writing under {version} until"
            f" {successor.created_at + grace:%H:%M} UTC ([keys] retire_grace_minutes)",
        )
    needed = (
        records_on_version(session, version)
        if kind == "kek"
        else _pseudonym_users(session, version, successor.created_at + grace)
    )
    if needed:
        where = ", ".join(f"{table}: {count:,}" for table, count in sorted(needed.items()))
        fix = (
            "run keys rewrap first"
            if kind == "kek"
            else "conversations move on next contact or go when purged; processed-message"
            " digests, and inbox digests once answered and sent, go after [retention]"
            " processed_message_days (hrd-intake purge); a channel's encryption store moves"
            " at the channel's next start"
        )
        raise RetireRefused(
            kind,
            version,
            needed,
            f"{sum(needed.values()):,} records still need it ({where}); {fix}",
        )


def retire_version(
    path: Path,
    passphrase: bytes,
    session: Session,
    kind: KeyKind,
    version: int,
    now: datetime,
    grace: timedelta,
) -> bool:
    """Retire a version after `retirement_blockers`; False when it already was retired.

    Raises:
        RetireRefused, crypto.KeyNotFound, crypto.CryptoError.
    """
    with keyring_lock(path):
        keyring = load_keyring(path, passphrase)
        if all(entry.version != version for entry in keyring.versions(kind)):
            raise KeyNotFound(kind, version)
        if _retired(keyring, kind, version):
            return False
        retirement_blockers(session, keyring, kind, version, now, grace)
        save_keyring(path, keyring.retire(kind, KeyVersion(version), now), passphrase)
    return True


def _retired(keyring: Keyring, kind: KeyKind, version: int) -> bool:
    return any(e.version == version and e.retired for e in keyring.versions(kind))


def _successor(keyring: Keyring, kind: KeyKind, version: int) -> KeyEntry:
    """The version created right after `version` (it took over as the primary)."""
    return min((e for e in keyring.versions(kind) if e.version > version), key=lambda e: e.version)


def _pseudonym_users(session: Session, version: int, cutoff: datetime) -> dict[str, int]:
    """What may still need this pseudonym version: records found by it, digests under it.

    Processed-message digests carry no version: those recorded before the
    successor took over (plus the grace) may be under this one. Inbox digests
    name theirs; without it a redelivered Signal message would be answered twice.
    """
    needed = {}
    conversations = count_conversations_on_pseudonym_version(session, version)
    if conversations:
        needed["conversations"] = conversations
    digests = count_processed_messages_before(session, cutoff)
    if digests:
        needed["processed_messages"] = digests
    inbox = count_inbox_on_pseudonym_version(session, version)
    if inbox:
        needed["inbox"] = inbox
    # A channel's encryption store moves to the primary version at its next start.
    items = count_channel_items_on_pseudonym_version(session, version)
    if items:
        needed["channel_items"] = items
    return needed
