"""An officer's private key, wrapped under a key derived from their passphrase.

Stored as one database row per officer. Format (JSON, ASCII, compact):

    {"format": "hrd-intake-wrapped-private-key", "version": 1, "owner": str,
     "kdf": {"name": "argon2id", "salt": b64(16 random bytes),
             "memory_kib": int, "iterations": int, "lanes": int},
     "nonce": b64(12 bytes), "ciphertext": b64(AES-256-GCM ciphertext || tag)}

The wrapping key is Argon2id(passphrase, salt, params), 32 bytes (not
`BestAvailableEncryption`, which is PBKDF2 with 2,048 iterations in
cryptography 50). The serialized private key is encrypted with AES-256-GCM
under it; the associated data is the length-prefixed encoding of a label, the
format and version, the owner and every KDF entry (name, parameters, salt): a
copy moved to another officer, or with weakened parameters, fails to open. The
parameters read back are bounded (as `KdfParams` bounds them) before use, so an
edited row cannot make unwrapping exhaust memory (the KDF and its "kdf" entry
are `crypto._kdf`'s, shared with the keyring file). A fresh salt and nonce are
drawn on every wrap; changing the passphrase rewraps this one row only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto._encoding import b64, from_b64, length_prefixed
from crypto._kdf import (
    DEFAULT_PARAMS,
    KDF_NAME,
    KdfParams,
    derive_key,
    kdf_entry,
    new_salt,
    read_kdf_entry,
)
from crypto.errors import BadPassphrase, Misplaced, UnsupportedFormat
from crypto.hpke_keys import PrivateKey

__all__ = [
    "rewrap_private_key",
    "unwrap_private_key",
    "wrap_private_key",
    "wrapped_key_params",
]

WRAP_FORMAT = "hrd-intake-wrapped-private-key"
WRAP_VERSION = 1
_WHAT = "wrapped private key"
_LABEL = "hrd-intake/wrapped-private-key"
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MAX_SIZE = 64 * 1024
_DOCUMENT_KEYS = frozenset({"format", "version", "owner", "kdf", "nonce", "ciphertext"})


def wrap_private_key(
    private: PrivateKey, passphrase: bytes, owner: str, params: KdfParams = DEFAULT_PARAMS
) -> bytes:
    """Wrap a private key under its owner's passphrase.

    Args:
        private: the key to protect.
        passphrase: the owner's passphrase; not empty.
        owner: whose key it is (for example "officer:<id>"); bound into the blob.
        params: Argon2id cost; the default (64 MiB, 3 passes) is for production.

    Returns:
        The wrapped key as JSON bytes (layout in the module docstring).

    Raises:
        ValueError: empty passphrase or owner.
        TypeError: passphrase is not bytes.
    """
    _check_passphrase(passphrase)
    _check_owner(owner)
    salt = new_salt()
    nonce = os.urandom(_NONCE_SIZE)
    key = derive_key(passphrase, salt, params)
    # Only someone holding the owner's passphrase can unwrap it, and only as this
    # owner's key with these KDF parameters.
    ad = _associated_data(owner, params, salt)
    ciphertext = AESGCM(key).encrypt(nonce, private.to_bytes(), ad)
    document = {
        "format": WRAP_FORMAT,
        "version": WRAP_VERSION,
        "owner": owner,
        "kdf": kdf_entry(params, salt),
        "nonce": b64(nonce),
        "ciphertext": b64(ciphertext),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def unwrap_private_key(blob: bytes, passphrase: bytes, owner: str) -> PrivateKey:
    """Unwrap a private key with its owner's passphrase.

    Args:
        blob: what `wrap_private_key` returned.
        passphrase: the owner's passphrase.
        owner: whose key the caller expects.

    Returns:
        The private key.

    Raises:
        UnsupportedFormat: malformed, unknown format version, or KDF parameters out
            of bounds.
        Misplaced: the blob names another owner; expected is
            ("wrapped private key", owner, "private key").
        BadPassphrase: wrong (or empty) passphrase, or the blob was modified
            (parameters, salt, owner); .owner is the owner.
        TypeError: blob or passphrase is not bytes.
    """
    if not isinstance(passphrase, bytes):
        raise TypeError("the passphrase must be bytes")
    _check_owner(owner)
    stored_owner, params, salt, nonce, ciphertext = _parse(blob)
    if stored_owner != owner:
        # A hint read before the costly KDF; the associated data is what enforces it.
        raise Misplaced((_WHAT, owner, "private key"))
    if not passphrase:
        raise BadPassphrase(owner=owner)
    key = derive_key(passphrase, salt, params)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(owner, params, salt))
    except InvalidTag:
        raise BadPassphrase(owner=owner) from None
    try:
        return PrivateKey.from_bytes(plaintext)
    except UnsupportedFormat as exc:  # authenticated, so only a foreign writer gets here
        raise UnsupportedFormat(_WHAT, WRAP_VERSION, f"the key inside: {exc.reason}") from None


def rewrap_private_key(
    blob: bytes,
    old_passphrase: bytes,
    new_passphrase: bytes,
    owner: str,
    params: KdfParams = DEFAULT_PARAMS,
) -> bytes:
    """Rewrap a private key under a new passphrase (a passphrase change).

    The private key itself does not change, so nothing sealed to it is touched.

    Raises:
        ValueError: the new passphrase is empty.
        The errors of `unwrap_private_key`.
    """
    _check_passphrase(new_passphrase)
    private = unwrap_private_key(blob, old_passphrase, owner)
    return wrap_private_key(private, new_passphrase, owner, params)


def _check_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, bytes):
        raise TypeError("the passphrase must be bytes")
    if not passphrase:
        raise ValueError("the passphrase must not be empty")


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not owner:
        raise ValueError("the owner must be a non-empty string")
    length_prefixed(owner)  # refuses lone surrogates


def _associated_data(owner: str, params: KdfParams, salt: bytes) -> bytes:
    return length_prefixed(
        _LABEL,
        WRAP_FORMAT,
        str(WRAP_VERSION),
        owner,
        KDF_NAME,
        str(params.memory_kib),
        str(params.iterations),
        str(params.lanes),
        b64(salt),
    )


def wrapped_key_params(blob: bytes) -> KdfParams:
    """The Argon2id cost a wrapped key was made with (from its plaintext header; no passphrase).

    Raises:
        UnsupportedFormat: malformed, or parameters out of bounds.
    """
    return _parse(blob)[1]


def _parse(blob: bytes) -> tuple[str, KdfParams, bytes, bytes, bytes]:
    """Validate the JSON; return owner, params, salt, nonce and ciphertext.

    Raises:
        UnsupportedFormat: anything wrong.
        TypeError: blob is not bytes-like.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"a {_WHAT} must be bytes, not {type(blob).__name__}")
    if len(blob) > _MAX_SIZE:
        raise _malformed(f"larger than {_MAX_SIZE} bytes", None)
    try:
        document: Any = json.loads(bytes(blob).decode("utf-8"))
    # ValueError includes UnicodeDecodeError and JSONDecodeError; RecursionError is deep nesting.
    except (ValueError, RecursionError):
        raise _malformed("not JSON", None) from None
    if not isinstance(document, dict) or document.get("format") != WRAP_FORMAT:
        raise _malformed("not an hrd-intake wrapped private key", None)
    version = document.get("version")
    if type(version) is not int:
        raise _malformed("no format version", None)
    if version != WRAP_VERSION:
        raise UnsupportedFormat(_WHAT, version, f"unsupported format version {version}")
    if set(document) != _DOCUMENT_KEYS:
        raise _malformed("unexpected or missing entries")
    params, salt = read_kdf_entry(
        document["kdf"], lambda reason: UnsupportedFormat(_WHAT, version, reason)
    )
    owner = document["owner"]
    if not isinstance(owner, str) or not owner:
        raise _malformed("bad owner")
    nonce = _unb64(document["nonce"], "nonce")
    ciphertext = _unb64(document["ciphertext"], "ciphertext")
    if len(nonce) != _NONCE_SIZE or len(ciphertext) < _TAG_SIZE:
        raise _malformed("nonce or ciphertext has the wrong size")
    return owner, params, salt, nonce, ciphertext


def _malformed(reason: str, version: int | None = WRAP_VERSION) -> UnsupportedFormat:
    return UnsupportedFormat(_WHAT, version, f"malformed: {reason}")


def _unb64(text: object, name: str) -> bytes:
    try:
        return from_b64(text)
    except ValueError:
        raise _malformed(f"{name} is not base64") from None
