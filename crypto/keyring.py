"""The keyring and its passphrase-protected file.

The keyring itself (`Keyring`, `KeyEntry`, `KeyVersion`, `KeyKind`) lives in
`crypto._keyset` and is re-exported here; this module stores it.

File format (JSON, UTF-8, mode 0600, never in the database):

    {"format": "hrd-intake-keyring", "version": 1,
     "kdf": {"name": "argon2id", "salt": b64(16 random bytes),
             "memory_kib": int, "iterations": int, "lanes": int},
     "nonce": b64(12 bytes), "ciphertext": b64(AES-256-GCM ciphertext || tag)}

The wrapping key is Argon2id(passphrase, salt, params), 32 bytes. The keyset
(every key version, as JSON) is encrypted with AES-256-GCM under it, with the
canonical JSON of the header (format, version, kdf) as associated data: editing
the KDF parameters, salt or version in the file makes opening fail. A fresh salt
and nonce are drawn on every save. The KDF parameters read from a file are
bounded before use, so an edited file cannot make loading exhaust memory.
The KDF, its parameters and their "kdf" entry are `crypto._kdf`'s, shared with
`crypto.passphrase_wrap`.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto._encoding import b64, from_b64
from crypto._kdf import (
    DEFAULT_PARAMS,
    MAX_ITERATIONS,
    MAX_LANES,
    MAX_MEMORY_KIB,
    PRODUCTION_MEMORY_FLOOR_KIB,
    KdfParams,
    check_kdf_params,
    derive_key,
    kdf_entry,
    new_salt,
    read_kdf_entry,
)
from crypto._keyfile import read_private_file, write_private_file
from crypto._keyset import KeyEntry, KeyKind, Keyring, KeyVersion, utc
from crypto.errors import BadPassphrase, KeyringFileError, UnsupportedFormat

__all__ = [
    "MAX_ITERATIONS",
    "MAX_LANES",
    "MAX_MEMORY_KIB",
    "PRODUCTION_MEMORY_FLOOR_KIB",
    "KdfParams",
    "KeyEntry",
    "KeyKind",
    "KeyVersion",
    "Keyring",
    "check_kdf_params",
    "create_keyring_file",
    "keyring_file_params",
    "load_keyring",
    "save_keyring",
]

FILE_FORMAT = "hrd-intake-keyring"
FILE_VERSION = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MAX_FILE_SIZE = 4 * 1024 * 1024
_DOCUMENT_KEYS = frozenset({"format", "version", "kdf", "nonce", "ciphertext"})


def create_keyring_file(
    path: Path, passphrase: bytes, now: datetime, params: KdfParams = DEFAULT_PARAMS
) -> Keyring:
    """Generate a new keyring and write it to a new file.

    Args:
        path: where to write; must not exist.
        passphrase: protects the file; must not be empty.
        now: creation time of the first key versions (aware).
        params: Argon2id cost.

    Returns:
        The new keyring.

    Raises:
        KeyringFileError: the file already exists, or its directory does not.
        ValueError: empty passphrase or naive now.
    """
    if os.path.lexists(path):
        raise KeyringFileError(path, "already exists")
    keyring = Keyring.generate(now)
    write_private_file(path, _seal(keyring, passphrase, params), exclusive=True)
    return keyring


def save_keyring(
    path: Path, keyring: Keyring, passphrase: bytes, params: KdfParams = DEFAULT_PARAMS
) -> None:
    """Write a keyring to its file, replacing the file atomically.

    Args:
        path: the keyring file (created if missing).
        keyring: what to store; retired versions are stored without material.
        passphrase: protects the file; must not be empty.
        params: Argon2id cost.

    Raises:
        KeyringFileError: the directory does not exist.
        ValueError: empty passphrase.
    """
    write_private_file(path, _seal(keyring, passphrase, params), exclusive=False)


def load_keyring(path: Path, passphrase: bytes) -> Keyring:
    """Read and decrypt a keyring file.

    Raises:
        KeyringFileError: missing, permissions too open (group/other bits set),
            malformed, or KDF parameters out of bounds.
        UnsupportedFormat: a file format version this code does not know.
        BadPassphrase: wrong passphrase, or the file was modified.
    """
    raw = read_private_file(path, _MAX_FILE_SIZE)
    params, salt, nonce, ciphertext = _parse_file(path, raw)
    key = derive_key(passphrase, salt, params)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _header_ad(params, salt))
    except InvalidTag:
        raise BadPassphrase(path) from None
    return _decode_keyset(path, plaintext)


def keyring_file_params(path: Path) -> KdfParams:
    """Return the Argon2id cost a keyring file was saved with, from its header alone.

    A rotation saves the file again with the same cost, so operators keep the
    protection they chose (and tests their cheap one). No passphrase needed:
    the header is plaintext, authenticated only when the file is opened.

    Raises:
        KeyringFileError: missing, permissions too open, malformed, or KDF
            parameters out of bounds.
        UnsupportedFormat: a file format version this code does not know.
    """
    return _parse_file(path, read_private_file(path, _MAX_FILE_SIZE))[0]


def _seal(keyring: Keyring, passphrase: bytes, params: KdfParams) -> bytes:
    if not passphrase:
        raise ValueError("the keyring passphrase must not be empty")
    salt = new_salt()
    nonce = os.urandom(_NONCE_SIZE)
    key = derive_key(passphrase, salt, params)
    # Only someone holding the passphrase (and this file) can decrypt the keyset.
    ciphertext = AESGCM(key).encrypt(nonce, _encode_keyset(keyring), _header_ad(params, salt))
    document = {**_header(params, salt), "nonce": b64(nonce), "ciphertext": b64(ciphertext)}
    return json.dumps(document, indent=2, sort_keys=True).encode("ascii") + b"\n"


def _header(params: KdfParams, salt: bytes) -> dict[str, Any]:
    return {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "kdf": kdf_entry(params, salt),
    }


def _header_ad(params: KdfParams, salt: bytes) -> bytes:
    """Canonical JSON of the header: the associated data of the keyset ciphertext."""
    canonical = json.dumps(
        _header(params, salt), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return canonical.encode("ascii")


def _parse_file(path: Path, raw: bytes) -> tuple[KdfParams, bytes, bytes, bytes]:
    """Validate the file's outer JSON; return params, salt, nonce and ciphertext."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError:  # includes UnicodeDecodeError and JSONDecodeError
        raise KeyringFileError(path, "malformed: not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeyringFileError(path, "malformed: not an hrd-intake keyring file")
    version = document.get("version")
    if type(version) is not int:
        raise KeyringFileError(path, "malformed: no format version")
    if version != FILE_VERSION:
        raise UnsupportedFormat("keyring file", version, f"unsupported format version {version}")
    if set(document) != _DOCUMENT_KEYS:
        raise KeyringFileError(path, "malformed: unexpected or missing entries")
    params, salt = read_kdf_entry(document["kdf"], lambda reason: KeyringFileError(path, reason))
    nonce = _unb64(path, document["nonce"], "nonce")
    ciphertext = _unb64(path, document["ciphertext"], "ciphertext")
    if len(nonce) != _NONCE_SIZE or len(ciphertext) < _TAG_SIZE:
        raise KeyringFileError(path, "malformed: nonce or ciphertext has the wrong size")
    return params, salt, nonce, ciphertext


def _encode_keyset(keyring: Keyring) -> bytes:
    def entries(kind: KeyKind) -> list[dict[str, Any]]:
        return [
            {
                "version": entry.version,
                "material": None if entry.retired else b64(entry.material),
                "created_at": entry.created_at.isoformat(),
                "retired_at": None if entry.retired_at is None else entry.retired_at.isoformat(),
            }
            for entry in keyring.versions(kind)
        ]

    keyset: dict[str, Any] = {
        "keks": entries("kek"),
        "kek_primary": keyring.primary("kek"),
        "pseudonym_keys": entries("pseudonym"),
        "pseudonym_primary": keyring.primary("pseudonym"),
        "draft_keys": entries("draft"),
        "draft_primary": keyring.primary("draft") if keyring.has_primary("draft") else None,
    }
    # Written only when present, so a keyring without them reads back the same.
    if keyring.auth_key:
        keyset["auth_key"] = b64(keyring.auth_key)
    if keyring.recovery_pin is not None:
        keyset["recovery_pin"] = keyring.recovery_pin
    return json.dumps(keyset, sort_keys=True, separators=(",", ":")).encode("ascii")


def _decode_keyset(path: Path, plaintext: bytes) -> Keyring:
    """Rebuild the keyring from the decrypted keyset JSON (authenticated, so only a bug
    or a foreign writer makes it malformed)."""
    try:
        keyset = json.loads(plaintext.decode("utf-8"))

        def entries(items: list[dict[str, Any]]) -> tuple[KeyEntry, ...]:
            return tuple(
                KeyEntry(
                    version=KeyVersion(item["version"]),
                    material=b"" if item["material"] is None else from_b64(item["material"]),
                    created_at=utc(datetime.fromisoformat(item["created_at"]), "created_at"),
                    retired_at=None
                    if item["retired_at"] is None
                    else utc(datetime.fromisoformat(item["retired_at"]), "retired_at"),
                )
                for item in items
            )

        return Keyring(
            keks=entries(keyset["keks"]),
            kek_primary=KeyVersion(keyset["kek_primary"]),
            pseudonym_keys=entries(keyset["pseudonym_keys"]),
            pseudonym_primary=KeyVersion(keyset["pseudonym_primary"]),
            # Files from before draft-epoch keys have none: the first epoch adds them.
            draft_keys=entries(keyset.get("draft_keys", [])),
            draft_primary=None
            if keyset.get("draft_primary") is None
            else KeyVersion(keyset["draft_primary"]),
            auth_key=from_b64(keyset["auth_key"]) if "auth_key" in keyset else b"",
            recovery_pin=keyset.get("recovery_pin"),
        )
    except (KeyError, TypeError, ValueError):  # the message could echo key bytes: drop it
        raise KeyringFileError(path, "malformed: the decrypted keyset is invalid") from None


def _unb64(path: Path, text: object, name: str) -> bytes:
    try:
        return from_b64(text)
    except ValueError:
        raise KeyringFileError(path, f"malformed: {name} is not base64") from None
