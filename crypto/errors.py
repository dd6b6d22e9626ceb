"""Exceptions raised by `crypto`.

Every exception carries what went wrong as attributes (key kind and version,
record and field, file path), so callers can decide and log without parsing
messages. No message ever contains key material, a passphrase or plaintext;
record types, record ids and field names appear because they are stored in
the clear anyway.

    CryptoError
    ├── KeyNotFound        .kind, .version: no such key version in the keyring
    ├── KeyRetired         .kind, .version: the version was retired, its material destroyed
    ├── Tampered           .record_type, .record_id, .field: authentication failed
    ├── Misplaced          .expected: the ciphertext belongs to another record or field
    ├── WrongKey           the data key given is not the one the ciphertext was made with
    ├── UnsupportedFormat  .what, .format_version, .reason: unknown version or malformed bytes
    ├── BadPassphrase      .path or .owner: the keyring file, or an officer's wrapped
    │                      private key, does not open with that passphrase
    └── KeyringFileError   .path, .reason: missing, permissions too open, malformed, exists
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BadPassphrase",
    "CryptoError",
    "KeyNotFound",
    "KeyRetired",
    "KeyringFileError",
    "Misplaced",
    "Tampered",
    "UnsupportedFormat",
    "WrongKey",
]


class CryptoError(Exception):
    """Base class of every error raised by `crypto`."""


class KeyNotFound(CryptoError):
    """The keyring has no key of this kind and version.

    Attributes:
        kind: "kek", "pseudonym" or "draft".
        version: the key version asked for.
    """

    def __init__(self, kind: str, version: int) -> None:
        self.kind = kind
        self.version = version
        super().__init__(f"the keyring has no {kind} key version {version}")


class KeyRetired(CryptoError):
    """The key version exists but was retired: its material is destroyed.

    Attributes:
        kind: "kek", "pseudonym" or "draft".
        version: the retired key version.
    """

    def __init__(self, kind: str, version: int) -> None:
        self.kind = kind
        self.version = version
        super().__init__(f"{kind} key version {version} was retired and its material destroyed")


class Tampered(CryptoError):
    """Authentication failed: the ciphertext or its header was modified.

    Attributes:
        record_type: the record type the caller expected the ciphertext to belong to.
        record_id: the record id expected.
        field: the field expected.
    """

    def __init__(self, record_type: str, record_id: str, field: str) -> None:
        self.record_type = record_type
        self.record_id = record_id
        self.field = field
        super().__init__(
            f"ciphertext of {record_type} {record_id!r} field {field!r} failed authentication"
            " (modified or corrupted)"
        )


class Misplaced(CryptoError):
    """The ciphertext was made for another record or field (for example two rows swapped).

    Detected from the binding fingerprint in the header, before any decryption.

    Attributes:
        expected: (record_type, record_id, field) the caller asked for.
    """

    def __init__(self, expected: tuple[str, str, str]) -> None:
        self.expected = expected
        record_type, record_id, field = expected
        super().__init__(
            f"ciphertext does not belong to {record_type} {record_id!r} field {field!r}:"
            " it was made for another record or field"
        )

    @property
    def record_type(self) -> str:
        """The record type expected."""
        return self.expected[0]

    @property
    def record_id(self) -> str:
        """The record id expected."""
        return self.expected[1]

    @property
    def field(self) -> str:
        """The field expected."""
        return self.expected[2]


class WrongKey(CryptoError):
    """The key commitment does not match: the data key is not the one used to encrypt.

    Also raised when the salt or commitment bytes of a field blob were corrupted,
    which cannot be told apart from a wrong key.
    """

    def __init__(self) -> None:
        super().__init__("the data key given is not the key this ciphertext was made with")


class UnsupportedFormat(CryptoError):
    """A blob or file has an unknown format version, or is truncated or garbage.

    Attributes:
        what: what was being parsed ("field blob", "wrapped data key", ...).
        format_version: the version byte found, or None if there was none.
        reason: a short sentence ("unsupported format version 7", "malformed: ...").
    """

    def __init__(self, what: str, format_version: int | None, reason: str) -> None:
        self.what = what
        self.format_version = format_version
        self.reason = reason
        super().__init__(f"{what}: {reason}")


class BadPassphrase(CryptoError):
    """The keyring file, or an officer's wrapped private key, did not open with that passphrase.

    Also raised when the file or the wrapped key was modified (including its KDF
    parameters or its owner): the two cannot be told apart.

    Attributes:
        path: the keyring file, or None for a wrapped private key.
        owner: whose wrapped private key it is, or None for the keyring file.
    """

    def __init__(self, path: Path | None = None, *, owner: str | None = None) -> None:
        self.path = path
        self.owner = owner
        if path is not None:
            what, modified = f"keyring file {path}", "the file was modified"
        elif owner is not None:
            what, modified = f"the private key wrapped for {owner!r}", "it was modified"
        else:
            what, modified = "the passphrase-protected key", "it was modified"
        super().__init__(f"{what} could not be opened: wrong passphrase, or {modified}")


class KeyringFileError(CryptoError):
    """The keyring file cannot be used (missing, permissions too open, malformed, exists).

    Attributes:
        path: the keyring file.
        reason: a short sentence saying why.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"keyring file {path}: {reason}")
