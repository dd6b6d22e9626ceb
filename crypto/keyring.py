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
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

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
_KDF_NAME = "argon2id"
_SALT_SIZE = 16
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MAX_FILE_SIZE = 4 * 1024 * 1024
# Bounds on Argon2id costs read from a file or a row, checked before any derivation:
# one edited header must not make an unlock burn minutes or exhaust memory.
MAX_MEMORY_KIB = 1024 * 1024  # 1 GiB
MAX_ITERATIONS = 10
MAX_LANES = 8
# Below this, a passphrase-derived key is for tests only (production: 64 MiB and up).
PRODUCTION_MEMORY_FLOOR_KIB = 64 * 1024
_DOCUMENT_KEYS = frozenset({"format", "version", "kdf", "nonce", "ciphertext"})
_KDF_KEYS = frozenset({"name", "salt", "memory_kib", "iterations", "lanes"})


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters for the keyring file's passphrase.

    The defaults (64 MiB, 3 passes, 4 lanes) are for production; tests pass
    cheaper ones explicitly.

    Raises:
        ValueError: a parameter is outside the accepted bounds.
    """

    memory_kib: int = 65536
    iterations: int = 3
    lanes: int = 4

    def __post_init__(self) -> None:
        check_kdf_params(self)

    @property
    def meets_production_floor(self) -> bool:
        """At least `PRODUCTION_MEMORY_FLOOR_KIB` of memory (64 MiB)."""
        return self.memory_kib >= PRODUCTION_MEMORY_FLOOR_KIB


def check_kdf_params(params: KdfParams, *, floor_kib: int = 0) -> KdfParams:
    """Bound Argon2id costs before any derivation; returns them unchanged.

    At most 1 GiB of memory, 10 passes and 8 lanes (and at least 8 KiB per
    lane, as Argon2 requires); with `floor_kib` (production:
    `PRODUCTION_MEMORY_FLOOR_KIB`), at least that much memory.

    Raises:
        ValueError: a parameter is not an integer or is out of bounds.
    """
    values = (params.memory_kib, params.iterations, params.lanes)
    if not all(type(v) is int for v in values):
        raise ValueError("KDF parameters must be integers")
    if not 1 <= params.lanes <= MAX_LANES:
        raise ValueError(f"KDF lanes must be from 1 to {MAX_LANES}")
    if not 1 <= params.iterations <= MAX_ITERATIONS:
        raise ValueError(f"KDF iterations must be from 1 to {MAX_ITERATIONS}")
    if not 8 * params.lanes <= params.memory_kib <= MAX_MEMORY_KIB:
        raise ValueError(f"KDF memory must be from 8 KiB per lane to {MAX_MEMORY_KIB} KiB")
    if params.memory_kib < floor_kib:
        raise ValueError(
            f"KDF memory {params.memory_kib} KiB is below the floor of {floor_kib} KiB"
        )
    return params


def create_keyring_file(
    path: Path, passphrase: bytes, now: datetime, params: KdfParams = KdfParams()
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
    path: Path, keyring: Keyring, passphrase: bytes, params: KdfParams = KdfParams()
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
    key = _derive(passphrase, salt, params)
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
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(_NONCE_SIZE)
    key = _derive(passphrase, salt, params)
    # Only someone holding the passphrase (and this file) can decrypt the keyset.
    ciphertext = AESGCM(key).encrypt(nonce, _encode_keyset(keyring), _header_ad(params, salt))
    document = {**_header(params, salt), "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
    return json.dumps(document, indent=2, sort_keys=True).encode("ascii") + b"\n"


def _derive(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    check_kdf_params(params)  # again: a KdfParams may have been built around its checks
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase)


def _header(params: KdfParams, salt: bytes) -> dict[str, Any]:
    return {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "kdf": {
            "name": _KDF_NAME,
            "salt": _b64(salt),
            "memory_kib": params.memory_kib,
            "iterations": params.iterations,
            "lanes": params.lanes,
        },
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
    kdf = document["kdf"]
    if not isinstance(kdf, dict) or set(kdf) != _KDF_KEYS:
        raise KeyringFileError(path, "malformed: bad kdf entry")
    if kdf["name"] != _KDF_NAME:
        raise KeyringFileError(path, f"unsupported KDF (only {_KDF_NAME} is accepted)")
    try:
        params = KdfParams(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
    except ValueError as exc:
        raise KeyringFileError(path, f"KDF parameters refused: {exc}") from None
    salt = _unb64(path, kdf["salt"], "salt")
    nonce = _unb64(path, document["nonce"], "nonce")
    ciphertext = _unb64(path, document["ciphertext"], "ciphertext")
    if len(salt) != _SALT_SIZE or len(nonce) != _NONCE_SIZE or len(ciphertext) < _TAG_SIZE:
        raise KeyringFileError(path, "malformed: salt, nonce or ciphertext has the wrong size")
    return params, salt, nonce, ciphertext


def _encode_keyset(keyring: Keyring) -> bytes:
    def entries(kind: KeyKind) -> list[dict[str, Any]]:
        return [
            {
                "version": entry.version,
                "material": None if entry.retired else _b64(entry.material),
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
    }
    # Written only when present, so a keyring without them reads back the same.
    if keyring.auth_key:
        keyset["auth_key"] = _b64(keyring.auth_key)
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
                    material=b"" if item["material"] is None else _strict_b64(item["material"]),
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
            auth_key=_strict_b64(keyset["auth_key"]) if "auth_key" in keyset else b"",
            recovery_pin=keyset.get("recovery_pin"),
        )
    except (KeyError, TypeError, ValueError):  # the message could echo key bytes: drop it
        raise KeyringFileError(path, "malformed: the decrypted keyset is invalid") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _strict_b64(text: object) -> bytes:
    """Decode base64 text, refusing anything else (binascii.Error is a ValueError)."""
    if not isinstance(text, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(text.encode("ascii"), validate=True)


def _unb64(path: Path, text: object, name: str) -> bytes:
    try:
        return _strict_b64(text)
    except (TypeError, ValueError):
        raise KeyringFileError(path, f"malformed: {name} is not base64") from None
