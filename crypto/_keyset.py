"""The keyring in memory: versioned key-encryption keys, pseudonym keys, draft-epoch keys.

Vault-transit / Tink style: each kind of key has numbered versions; one is the
primary, used for new encryptions and pseudonyms; older versions stay for
decryption and lookup until retired.

Draft-epoch keys ("draft") wrap only the data keys of drafts (conversations and
their files before submission). A new version starts each epoch and every step
of a draft re-wraps it under the newest, so an old epoch key protects nothing
that is still in use once the draft idle time has passed: it is then destroyed
outright (`destroy`), number and all, which is what makes a database backup from
that epoch unreadable even to someone holding today's keyring. A keyring file
from before draft keys has none (`draft_primary` None) until the first epoch. Retiring drops a version's material from
this object (b""), and from the keyring file at the next save; copies of older
files or backups still hold it, and Python cannot wipe the bytes from memory.

Public names are re-exported by `crypto.keyring`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NewType, get_args

from crypto.errors import KeyNotFound, KeyRetired

__all__ = ["KEY_SIZE", "KeyEntry", "KeyKind", "KeyVersion", "Keyring", "utc"]

KeyVersion = NewType("KeyVersion", int)
KeyKind = Literal["kek", "pseudonym", "draft"]

KEY_SIZE = 32
_MAX_VERSION = 0xFFFFFFFF  # versions are written as 4 bytes big-endian in ciphertexts
_KINDS: tuple[KeyKind, ...] = get_args(KeyKind)


def utc(moment: datetime, name: str = "now") -> datetime:
    """Return an aware datetime converted to UTC.

    Raises:
        ValueError: moment is naive.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), not naive")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class KeyEntry:
    """One version of one kind of key.

    Attributes:
        version: 1, 2, ... in order of creation.
        material: 32 secret bytes; b"" once retired. Never shown by repr.
        created_at: when the version was created (aware, UTC).
        retired_at: when it was retired, or None while usable.
    """

    version: KeyVersion
    material: bytes = field(repr=False)
    created_at: datetime
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        if type(self.version) is not int or not 1 <= self.version <= _MAX_VERSION:
            raise ValueError(f"a key version must be an integer from 1 to {_MAX_VERSION}")
        if not isinstance(self.material, bytes):
            raise TypeError("key material must be bytes")
        utc(self.created_at, "created_at")
        if self.retired_at is None:
            if len(self.material) != KEY_SIZE:
                raise ValueError(f"key version {self.version} must have {KEY_SIZE} bytes")
        else:
            utc(self.retired_at, "retired_at")
            if self.material != b"":
                raise ValueError(f"retired key version {self.version} must have no material")

    @property
    def retired(self) -> bool:
        """True once the version was retired and its material destroyed."""
        return self.retired_at is not None


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys and pseudonym keys, each versioned with one primary.

    Immutable: rotate and retire return a new Keyring, to be saved by the caller.

    Raises:
        ValueError: on construction, if versions repeat or a primary is missing or retired.
    """

    keks: tuple[KeyEntry, ...]
    kek_primary: KeyVersion
    pseudonym_keys: tuple[KeyEntry, ...]
    pseudonym_primary: KeyVersion
    draft_keys: tuple[KeyEntry, ...] = ()
    draft_primary: KeyVersion | None = None
    # Root of the MACs over what the database must not forge (key directory, audit chain);
    # b"" in a keyring made before it existed (`with_auth_key` adds one).
    auth_key: bytes = field(default=b"", repr=False)
    # SHA-256 (hex) of the recovery public key sealing may use; None until one is pinned.
    recovery_pin: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.auth_key, bytes) or len(self.auth_key) not in (0, KEY_SIZE):
            raise ValueError(f"the keyring's authentication key must have {KEY_SIZE} bytes")
        if self.recovery_pin is not None and (
            not isinstance(self.recovery_pin, str) or len(self.recovery_pin) != 64
        ):
            raise ValueError("the recovery pin must be a SHA-256 hex digest")
        for kind in _KINDS:
            entries, primary = self._of_optional(kind)
            if not isinstance(entries, tuple) or not all(isinstance(e, KeyEntry) for e in entries):
                raise TypeError(f"the keyring's {kind} keys must be a tuple of KeyEntry")
            if kind == "draft" and not entries and primary is None:
                continue  # no draft epoch yet (a keyring from before draft keys)
            versions = [entry.version for entry in entries]
            if len(set(versions)) != len(versions):
                raise ValueError(f"the keyring lists a {kind} key version twice")
            if versions != sorted(versions):
                raise ValueError(f"the keyring's {kind} key versions must be in ascending order")
            primary_entry = next((e for e in entries if e.version == primary), None)
            if primary_entry is None:
                raise ValueError(f"the primary {kind} key version {primary} is not in the keyring")
            if primary_entry.retired:
                raise ValueError(f"the primary {kind} key version {primary} is retired")

    @classmethod
    def generate(cls, now: datetime) -> Keyring:
        """Create a keyring with version 1 of each kind of key, from the OS random source.

        Args:
            now: the creation time (aware).
        """
        created = utc(now)
        first = KeyVersion(1)
        return cls(
            keks=(KeyEntry(first, os.urandom(KEY_SIZE), created),),
            kek_primary=first,
            pseudonym_keys=(KeyEntry(first, os.urandom(KEY_SIZE), created),),
            pseudonym_primary=first,
            draft_keys=(KeyEntry(first, os.urandom(KEY_SIZE), created),),
            draft_primary=first,
            auth_key=os.urandom(KEY_SIZE),
        )

    def with_auth_key(self) -> Keyring:
        """This keyring with an authentication key (a new one only if it had none)."""
        if self.auth_key:
            return self
        return dataclasses.replace(self, auth_key=os.urandom(KEY_SIZE))

    def with_recovery_pin(self, pin: str) -> Keyring:
        """This keyring pinning the recovery key with this fingerprint (SHA-256 hex)."""
        return dataclasses.replace(self, recovery_pin=pin)

    def material(self, kind: KeyKind, version: KeyVersion) -> bytes:
        """Return the secret bytes of one key version.

        Raises:
            KeyNotFound: no such version.
            KeyRetired: the version was retired.
        """
        entry = self._entry(kind, version)
        if entry.retired:
            raise KeyRetired(kind, version)
        return entry.material

    def primary(self, kind: KeyKind) -> KeyVersion:
        """Return the version used for new encryptions or pseudonyms.

        Raises:
            KeyNotFound: no draft epoch has started yet (kind "draft" only).
        """
        return self._of(kind)[1]

    def has_primary(self, kind: KeyKind) -> bool:
        """False only for "draft" in a keyring that has no draft epoch yet."""
        return self._of_optional(kind)[1] is not None

    def versions(self, kind: KeyKind) -> tuple[KeyEntry, ...]:
        """Return every version of a kind, retired ones included, oldest first."""
        return self._of_optional(kind)[0]

    def rotate(self, kind: KeyKind, now: datetime) -> Keyring:
        """Add a new version (highest + 1) of a kind and make it the primary.

        Older versions stay usable for decryption and lookup until retired.

        Raises:
            ValueError: now is naive, or the version numbers are exhausted.
        """
        entries, _ = self._of_optional(kind)
        new_version = max((entry.version for entry in entries), default=0) + 1
        if new_version > _MAX_VERSION:
            raise ValueError(f"no {kind} key version is left to rotate to")
        entry = KeyEntry(KeyVersion(new_version), os.urandom(KEY_SIZE), utc(now))
        return self._with(kind, (*entries, entry), entry.version)

    def retire(self, kind: KeyKind, version: KeyVersion, now: datetime) -> Keyring:
        """Retire a version: destroy its material and keep only its number and dates.

        Whatever is still encrypted or pseudonymised under it becomes unreadable or
        unfindable: the caller must first check that no record still needs it.
        Retiring an already retired version returns the keyring unchanged.

        Raises:
            ValueError: version is the primary (rotate first), or now is naive.
            KeyNotFound: no such version.
        """
        when = utc(now)
        entries, primary = self._of(kind)
        target = self._entry(kind, version)
        if target.retired:
            return self
        if version == primary:
            raise ValueError(
                f"{kind} key version {version} is the primary and cannot be retired;"
                " rotate to a new version first"
            )
        retired = dataclasses.replace(target, material=b"", retired_at=when)
        return self._with(
            kind, tuple(retired if e.version == version else e for e in entries), primary
        )

    def destroy(self, kind: KeyKind, versions: Iterable[KeyVersion]) -> Keyring:
        """Remove versions entirely: material, number and dates (draft-epoch keys only).

        Unlike `retire`, nothing is kept: an hourly epoch would otherwise leave
        thousands of tombstones in the file. Whatever a destroyed version wrapped
        can no longer be unwrapped (`KeyNotFound`); versions not present are ignored.

        Raises:
            ValueError: kind is not "draft", or a version is the primary.
        """
        if kind != "draft":
            raise ValueError(f"only draft-epoch keys are destroyed outright; retire {kind} keys")
        doomed = set(versions)
        if self.draft_primary in doomed:
            raise ValueError(f"draft key version {self.draft_primary} is the current epoch")
        kept = tuple(entry for entry in self.draft_keys if entry.version not in doomed)
        if len(kept) == len(self.draft_keys):
            return self
        return dataclasses.replace(self, draft_keys=kept)

    def _of(self, kind: KeyKind) -> tuple[tuple[KeyEntry, ...], KeyVersion]:
        entries, primary = self._of_optional(kind)
        if primary is None:
            raise KeyNotFound(kind, 0)
        return entries, primary

    def _of_optional(self, kind: KeyKind) -> tuple[tuple[KeyEntry, ...], KeyVersion | None]:
        if kind == "kek":
            return self.keks, self.kek_primary
        if kind == "pseudonym":
            return self.pseudonym_keys, self.pseudonym_primary
        if kind == "draft":
            return self.draft_keys, self.draft_primary
        raise ValueError(f"unknown key kind {kind!r}: expected one of {', '.join(_KINDS)}")

    def _entry(self, kind: KeyKind, version: KeyVersion) -> KeyEntry:
        for entry in self._of_optional(kind)[0]:
            if entry.version == version:
                return entry
        raise KeyNotFound(kind, version)

    def _with(self, kind: KeyKind, entries: tuple[KeyEntry, ...], primary: KeyVersion) -> Keyring:
        if kind == "kek":
            return dataclasses.replace(self, keks=entries, kek_primary=primary)
        if kind == "draft":
            return dataclasses.replace(self, draft_keys=entries, draft_primary=primary)
        return dataclasses.replace(self, pseudonym_keys=entries, pseudonym_primary=primary)
