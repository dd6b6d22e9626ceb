"""Sealing a secret to a public key with HPKE (RFC 9180, base mode, single shot).

A case's data key is sealed to its mission's current public key and to the
recovery public key; a mission's private key is sealed to each member officer
and to the recovery key. `SealContext` says what is sealed (purpose), for what
(subject) and to whom (recipient name and key version); its canonical encoding
is the HPKE `info`, so a blob only opens under the exact context it was sealed
with. (The public HPKE API of `cryptography` has no associated-data argument;
`info` enters the key schedule, which binds it just as well.) HPKE also binds
the recipient's public key itself (in the KEM's shared secret).

Blob layout (byte offsets):

    sealed secret (at least 68 bytes for x25519, 1156 for mlkem768-x25519):
        0      format version (1)
        1      blob kind 0x03
        2      algorithm id: 0x01 x25519, 0x02 mlkem768-x25519
        3..11  context fingerprint: SHA-256(context info)[:8]
        11..19 recipient key id (8 bytes, see `PublicKey.key_id`)
        19..   HPKE ciphertext: encapsulated key (32, or 1120) || AES-256-GCM(secret) || tag 16

Opening checks, in order: format, kind, size and algorithm (`UnsupportedFormat`),
context fingerprint (`Misplaced`: sealed for another case, purpose, recipient
or key version), recipient key id against the private key given (`WrongKey`),
then HPKE decryption (`Tampered`). Fingerprint and key id are plain hints read
before any decryption, so a wrong row is reported as such; the HPKE decryption
alone authenticates.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes

from crypto import _blob, _hpke
from crypto._blob import FORMAT_VERSION
from crypto._encoding import length_prefixed
from crypto.errors import Misplaced, Tampered, UnsupportedFormat, WrongKey
from crypto.hpke_keys import PrivateKey, PublicKey

__all__ = ["SealContext", "open_sealed", "seal"]

_WHAT = "sealed secret"
_RECORD_TYPE = "seal"
_LABEL = "hrd-intake/seal"
_FINGERPRINT_SIZE = 8
_KEY_ID_SIZE = 8
_HEADER_SIZE = 3 + _FINGERPRINT_SIZE + _KEY_ID_SIZE
_TAG_SIZE = 16
_MAX_VERSION = 0xFFFFFFFF


@dataclass(frozen=True)
class SealContext:
    """What a sealed secret is and whom it is for; bound into the HPKE `info`.

    Attributes:
        purpose: what the secret is: "case-key", "mission-key", ...
        subject: what it belongs to: a case reference, a mission id and version, ...
        recipient: who it is sealed to: "mission:eu-del-ke", "officer:<id>",
            "recovery:<key_id>".
        recipient_version: the version of the recipient's key (1 for keys without
            versions).

    Raises:
        ValueError: a text part is empty, not a string, or not encodable as UTF-8;
            or recipient_version is not an integer from 1 to 2**32 - 1.
    """

    purpose: str
    subject: str
    recipient: str
    recipient_version: int

    def __post_init__(self) -> None:
        for name in ("purpose", "subject", "recipient"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"the seal context's {name} must be a non-empty string")
        version = self.recipient_version
        if type(version) is not int or not 1 <= version <= _MAX_VERSION:
            raise ValueError(f"the recipient version must be an integer from 1 to {_MAX_VERSION}")
        self.info()  # refuses lone surrogates now rather than at sealing time

    def info(self) -> bytes:
        """Canonical encoding: length-prefixed UTF-8 of the label "hrd-intake/seal", the
        format version, purpose, subject, recipient and recipient version (decimal)."""
        return length_prefixed(
            _LABEL,
            str(FORMAT_VERSION),
            self.purpose,
            self.subject,
            self.recipient,
            str(self.recipient_version),
        )

    def fingerprint(self) -> bytes:
        """SHA-256(info())[:8], as stored in a sealed blob's header."""
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.info())
        return digest.finalize()[:_FINGERPRINT_SIZE]


def seal(public: PublicKey, secret: bytes, context: SealContext) -> bytes:
    """Seal a secret (a data key, a serialized private key) to a public key.

    Args:
        public: the recipient's public key.
        secret: the bytes to seal; not empty.
        context: what and for whom; the same context is needed to open.

    Returns:
        The sealed blob (layout in the module docstring).

    Raises:
        ValueError: secret is empty.
        TypeError: secret is not bytes.
    """
    if not isinstance(secret, bytes):
        raise TypeError(f"the secret must be bytes, not {type(secret).__name__}")
    if not secret:
        raise ValueError("the secret to seal must not be empty")
    algorithm = _hpke.by_name(public.algorithm)
    header = (
        _blob.header(_blob.SEALED)
        + bytes([algorithm.ident])
        + context.fingerprint()
        + bytes.fromhex(public.key_id)
    )
    # Only the holder of this public key's private half (the mission's officers, an
    # officer, or security staff with the offline recovery key) can open it, and only
    # with this exact context. The server cannot, once its own copy is gone.
    ciphertext = algorithm.suite().encrypt(
        secret, _hpke.to_public(algorithm, public.raw), info=context.info()
    )
    return header + ciphertext


def open_sealed(private: PrivateKey, blob: bytes, context: SealContext) -> bytes:
    """Open a sealed secret.

    Args:
        private: the recipient's private key.
        blob: what `seal` returned.
        context: the context it was sealed with.

    Returns:
        The secret.

    Raises:
        UnsupportedFormat: unknown format version or algorithm, malformed or truncated
            blob, or a blob for another algorithm than the private key's.
        Misplaced: sealed under another context (another subject, purpose, recipient
            or recipient key version); expected is ("seal", subject, purpose).
        WrongKey: sealed to another key than this private key (or its key id bytes
            were corrupted).
        Tampered: HPKE decryption failed: record_type "seal", record_id the subject,
            field the purpose.
        TypeError: blob is not bytes-like.
    """
    data, algorithm = _parse(blob)
    if algorithm.name != private.algorithm:
        raise UnsupportedFormat(
            _WHAT,
            data[0],
            f"sealed with {algorithm.name}, but the private key is {private.algorithm}",
        )
    if not hmac.compare_digest(data[3:11], context.fingerprint()):
        raise Misplaced((_RECORD_TYPE, context.subject, context.purpose))
    if not hmac.compare_digest(data[11:19], bytes.fromhex(private.public_key().key_id)):
        raise WrongKey()
    try:
        return algorithm.suite().decrypt(
            data[_HEADER_SIZE:], _hpke.to_private(algorithm, private.raw), info=context.info()
        )
    except (InvalidTag, ValueError):  # a corrupted encapsulated key may fail as ValueError
        raise Tampered(_RECORD_TYPE, context.subject, context.purpose) from None


def _parse(blob: bytes) -> tuple[bytes, _hpke.Algorithm]:
    """Check a sealed blob's header (`crypto._blob`), algorithm and size.

    Raises:
        UnsupportedFormat: anything wrong, never IndexError.
        TypeError: blob is not bytes-like.
    """
    data = _blob.read_header(blob, _blob.SEALED)
    algorithm = _blob.read_algorithm(data, _blob.SEALED)
    _blob.check_size(
        data, _blob.SEALED, _HEADER_SIZE + algorithm.enc_size + 1 + _TAG_SIZE, exact=False
    )
    return data, algorithm
