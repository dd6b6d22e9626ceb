"""Envelope encryption: a random data key per record, wrapped under the keyring's KEK.

Every record gets its own 256-bit data key (DEK). Its fields are sealed under
the DEK; the DEK is wrapped under the keyring's primary key-encryption key
(KEK). Both kinds of blob are bound to their place (record type, record id,
field, format version) by AES-GCM associated data, and carry a short
fingerprint of that binding so a ciphertext moved to another row or field is
reported as `Misplaced` before any decryption.

Blob layouts (byte offsets; integers big-endian):

    wrapped DEK (74 bytes):
        0      format version (1)
        1      blob kind 0x01
        2..6   KEK version
        6..14  binding fingerprint: SHA-256(binding associated data)[:8], field "dek"
        14..26 nonce
        26..74 AES-256-GCM(KEK, DEK, AD = binding AD || KEK version): 32 + 16 tag

    field (at least 102 bytes):
        0      format version (1)
        1      blob kind 0x02
        2..10  binding fingerprint
        10..42 salt (32 random bytes)
        42..74 commitment tag
        74..86 nonce
        86..   AES-256-GCM(field key, plaintext, AD = binding AD): ciphertext + 16 tag

Key commitment, as in the AWS Encryption SDK's committing suites:
HKDF-SHA256(DEK, salt, info "hrd-intake/v1/field-key") gives 64 bytes, the
field key (32) and the commitment tag (32). AES-GCM alone is not committing:
one ciphertext could open under two keys, and a DEK is sealed to several
recipients. Opening a field checks, in order: format (`UnsupportedFormat`),
fingerprint (`Misplaced`), commitment in constant time (`WrongKey`), then
AES-GCM (`Tampered`). A fresh salt gives every field its own key, so the
random-nonce limit of AES-GCM never binds per DEK.

Data keys and plaintexts are Python bytes: they cannot be wiped from memory;
never log them.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import NewType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import _blob
from crypto._blob import FORMAT_VERSION
from crypto._encoding import length_prefixed
from crypto._keyset import Keyring, KeyVersion
from crypto.errors import Misplaced, Tampered, WrongKey

__all__ = [
    "FORMAT_VERSION",
    "Binding",
    "DataKey",
    "new_data_key",
    "open_field",
    "rewrap_data_key",
    "seal_field",
    "unwrap_data_key",
    "wrap_data_key",
    "wrapped_key_version",
]

DataKey = NewType("DataKey", bytes)

_DEK_FIELD = "dek"
_BINDING_LABEL = "hrd-intake/binding"
_FIELD_KEY_INFO = b"hrd-intake/v1/field-key"
_KEY_SIZE = 32
_FINGERPRINT_SIZE = 8
_SALT_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_WRAPPED_SIZE = 2 + 4 + _FINGERPRINT_SIZE + _NONCE_SIZE + _KEY_SIZE + _TAG_SIZE
_FIELD_HEADER_SIZE = 2 + _FINGERPRINT_SIZE + _SALT_SIZE + _KEY_SIZE + _NONCE_SIZE
_FIELD_MIN_SIZE = _FIELD_HEADER_SIZE + _TAG_SIZE


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext belongs: record type, record id and field.

    Raises:
        ValueError: a part is empty, not a string, or not encodable as UTF-8.
    """

    record_type: str
    record_id: str
    field: str

    def __post_init__(self) -> None:
        for name, value in self._named_parts():
            if not isinstance(value, str) or not value:
                raise ValueError(f"the binding's {name} must be a non-empty string")
        self.associated_data()  # refuses lone surrogates now rather than at encryption time

    def associated_data(self) -> bytes:
        """Unambiguous encoding: format version byte, then length-prefixed UTF-8 of a label
        and of each part."""
        parts = length_prefixed(_BINDING_LABEL, self.record_type, self.record_id, self.field)
        return bytes([FORMAT_VERSION]) + parts

    def as_tuple(self) -> tuple[str, str, str]:
        """(record_type, record_id, field), as errors carry it."""
        return (self.record_type, self.record_id, self.field)

    def _named_parts(self) -> tuple[tuple[str, object], ...]:
        return (
            ("record_type", self.record_type),
            ("record_id", self.record_id),
            ("field", self.field),
        )


def new_data_key() -> DataKey:
    """Return a fresh random 256-bit data key from the OS random source."""
    return DataKey(os.urandom(_KEY_SIZE))


def wrap_data_key(keyring: Keyring, dek: DataKey, record_type: str, record_id: str) -> bytes:
    """Wrap a record's data key under the keyring's primary KEK.

    Raises:
        ValueError: dek is not 32 bytes, or a binding part is invalid.
    """
    _check_dek(dek)
    return _wrap(keyring, dek, _DekPlace.of(record_type, record_id))


def unwrap_data_key(keyring: Keyring, wrapped: bytes, record_type: str, record_id: str) -> DataKey:
    """Unwrap a record's data key with the KEK version named in the blob.

    Raises:
        UnsupportedFormat: unknown format version, or malformed or truncated blob.
        Misplaced: the blob was wrapped for another record.
        KeyNotFound: the keyring lacks the KEK version named.
        KeyRetired: that KEK version was retired.
        Tampered: authentication failed.
    """
    place = _DekPlace.of(record_type, record_id)
    return _unwrap(keyring, _parse(wrapped, _blob.WRAPPED_DEK, _WRAPPED_SIZE, exact=True), place)


def wrapped_key_version(wrapped: bytes) -> KeyVersion:
    """Return the KEK version a wrapped data key names, from its header alone.

    Raises:
        UnsupportedFormat: unknown format version, or malformed or truncated blob.
    """
    data = _parse(wrapped, _blob.WRAPPED_DEK, _WRAPPED_SIZE, exact=True)
    return KeyVersion(int.from_bytes(data[2:6], "big"))


def rewrap_data_key(keyring: Keyring, wrapped: bytes, record_type: str, record_id: str) -> bytes:
    """Re-wrap a data key under the primary KEK; payloads are never touched.

    A blob already under the primary is authenticated and returned unchanged, so
    a rerun is a no-op. The binding is encoded once for both halves (this is the
    hot path of a rewrap over every record).

    Raises:
        The errors of `unwrap_data_key`.
    """
    place = _DekPlace.of(record_type, record_id)
    data = _parse(wrapped, _blob.WRAPPED_DEK, _WRAPPED_SIZE, exact=True)
    dek = _unwrap(keyring, data, place)
    if int.from_bytes(data[2:6], "big") == keyring.primary("kek"):
        return data
    return _wrap(keyring, dek, place)


@dataclass(frozen=True)
class _DekPlace:
    """A wrapped data key's binding, with its associated data and fingerprint encoded once."""

    binding: Binding
    associated_data: bytes
    fingerprint: bytes

    @classmethod
    def of(cls, record_type: str, record_id: str) -> _DekPlace:
        binding = Binding(record_type, record_id, _DEK_FIELD)
        associated_data = binding.associated_data()
        return cls(binding, associated_data, _fingerprint_of(associated_data))


def _wrap(keyring: Keyring, dek: bytes, place: _DekPlace) -> bytes:
    version = keyring.primary("kek")
    kek = keyring.material("kek", version)
    header = _blob.header(_blob.WRAPPED_DEK) + version.to_bytes(4, "big")
    nonce = os.urandom(_NONCE_SIZE)
    # Whoever holds this KEK version (the server's keyring) can unwrap it, for this record only.
    ciphertext = AESGCM(kek).encrypt(nonce, dek, place.associated_data + version.to_bytes(4, "big"))
    return header + place.fingerprint + nonce + ciphertext


def _unwrap(keyring: Keyring, data: bytes, place: _DekPlace) -> DataKey:
    version = KeyVersion(int.from_bytes(data[2:6], "big"))
    if not hmac.compare_digest(data[6:14], place.fingerprint):
        raise Misplaced(place.binding.as_tuple())
    kek = keyring.material("kek", version)
    associated_data = place.associated_data + version.to_bytes(4, "big")
    try:
        dek = AESGCM(kek).decrypt(data[14:26], data[26:], associated_data)
    except InvalidTag:
        binding = place.binding
        raise Tampered(binding.record_type, binding.record_id, _DEK_FIELD) from None
    return DataKey(dek)


def seal_field(dek: DataKey, plaintext: bytes, binding: Binding) -> bytes:
    """Encrypt one field of a record under the record's data key.

    Raises:
        ValueError: dek is not 32 bytes.
    """
    _check_dek(dek)
    salt = os.urandom(_SALT_SIZE)
    field_key, commitment = _field_keys(dek, salt)
    nonce = os.urandom(_NONCE_SIZE)
    header = _blob.header(_blob.FIELD) + _fingerprint(binding) + salt + commitment
    # Whoever holds this record's data key can decrypt it, in this record and field only:
    # the server while the DEK is wrapped under its KEK, then the recipients it is sealed to.
    ciphertext = AESGCM(field_key).encrypt(nonce, plaintext, binding.associated_data())
    return header + nonce + ciphertext


def open_field(dek: DataKey, blob: bytes, binding: Binding) -> bytes:
    """Decrypt one field of a record.

    Raises:
        ValueError: dek is not 32 bytes.
        UnsupportedFormat: unknown format version, or malformed or truncated blob.
        Misplaced: the blob belongs to another record or field.
        WrongKey: dek is not the data key the blob was sealed with (or salt or
            commitment bytes were corrupted).
        Tampered: authentication failed (nonce, ciphertext or tag modified).
    """
    _check_dek(dek)
    data = _parse(blob, _blob.FIELD, _FIELD_MIN_SIZE, exact=False)
    if not hmac.compare_digest(data[2:10], _fingerprint(binding)):
        raise Misplaced(binding.as_tuple())
    field_key, commitment = _field_keys(dek, data[10:42])
    if not hmac.compare_digest(data[42:74], commitment):
        raise WrongKey()
    try:
        return AESGCM(field_key).decrypt(data[74:86], data[86:], binding.associated_data())
    except InvalidTag:
        raise Tampered(binding.record_type, binding.record_id, binding.field) from None


def _check_dek(dek: bytes) -> None:
    if not isinstance(dek, bytes) or len(dek) != _KEY_SIZE:
        raise ValueError(f"a data key must be {_KEY_SIZE} bytes")


def _fingerprint(binding: Binding) -> bytes:
    return _fingerprint_of(binding.associated_data())


def _fingerprint_of(associated_data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(associated_data)
    return digest.finalize()[:_FINGERPRINT_SIZE]


def _field_keys(dek: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Derive (field key, commitment tag) from the data key and the blob's salt."""
    okm = HKDF(
        algorithm=hashes.SHA256(), length=2 * _KEY_SIZE, salt=salt, info=_FIELD_KEY_INFO
    ).derive(dek)
    return okm[:_KEY_SIZE], okm[_KEY_SIZE:]


def _parse(blob: bytes, kind: int, size: int, *, exact: bool) -> bytes:
    """Check a blob's header (`crypto._blob`) and size; return it as bytes.

    Raises:
        UnsupportedFormat: anything wrong, never IndexError.
        TypeError: blob is not bytes-like.
    """
    data = _blob.read_header(blob, kind)
    _blob.check_size(data, kind, size, exact=exact)
    return data
