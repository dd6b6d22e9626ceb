"""Asymmetric key pairs for HPKE (RFC 9180): mission, officer and recovery keys.

Two algorithms, each one fixed suite (KDF HKDF-SHA256, AEAD AES-256-GCM):
"mlkem768-x25519" (hybrid ML-KEM-768 + X25519: safe unless both break; these
records stay sensitive for decades), the default where the installed
`cryptography` supports it, and "x25519" otherwise. `DEFAULT_ALGORITHM` says
which one this installation uses. The raw key layouts are in `crypto._hpke`.

Serialized layouts (byte offsets):

    public key (35 or 1219 bytes):
        0      format version (1)
        1      blob kind 0x04
        2      algorithm id: 0x01 x25519, 0x02 mlkem768-x25519
        3..    raw public key (32, or 1184 + 32)

    private key (35 or 99 bytes):
        0      format version (1)
        1      blob kind 0x05
        2      algorithm id
        3..    raw private key (32, or ML-KEM seed 64 + 32)

The kind byte keeps a private key from ever being read as a public one (for
X25519 both are 32 bytes). A key id is the first 8 bytes of SHA-256 of the
serialized public key, as 16 hex digits: a stable fingerprint to name the key
in the database and in sealed blobs; it is not a secret and not a MAC.

Private keys are Python bytes: they cannot be wiped from memory; never log them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes

from crypto import _blob, _hpke
from crypto._blob import FORMAT_VERSION
from crypto.errors import UnsupportedFormat

__all__ = [
    "DEFAULT_ALGORITHM",
    "HPKE_ALGORITHMS",
    "PrivateKey",
    "PublicKey",
    "generate_keypair",
]

# The hybrid where this cryptography supports it, X25519 otherwise (detected at import).
DEFAULT_ALGORITHM = _hpke.HYBRID if _hpke.HYBRID_AVAILABLE else _hpke.X25519
# The algorithms this installation can use.
HPKE_ALGORITHMS: tuple[str, ...] = tuple(_hpke.ALGORITHMS)

_KIND_PUBLIC = _blob.PUBLIC_KEY
_KIND_PRIVATE = _blob.PRIVATE_KEY
_HEADER_SIZE = 3
_KEY_ID_SIZE = 8
_WHAT = {_KIND_PUBLIC: "public key", _KIND_PRIVATE: "private key"}


@dataclass(frozen=True)
class PublicKey:
    """An HPKE public key.

    Attributes:
        algorithm: "mlkem768-x25519" or "x25519".
        raw: the raw public key bytes (layout in `crypto._hpke`).

    Raises:
        ValueError: unknown or unsupported algorithm, or raw is not a valid public
            key of it (wrong size, invalid ML-KEM key, low-order X25519 point).
    """

    algorithm: str
    raw: bytes

    def __post_init__(self) -> None:
        _hpke.to_public(_hpke.by_name(self.algorithm), self.raw)

    @property
    def key_id(self) -> str:
        """Stable fingerprint: hex of SHA-256(to_bytes())[:8], 16 hex digits."""
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.to_bytes())
        return digest.finalize()[:_KEY_ID_SIZE].hex()

    def to_bytes(self) -> bytes:
        """Serialize: format version, kind 0x04, algorithm id, raw."""
        return _header(_KIND_PUBLIC, self.algorithm) + self.raw

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Parse a serialized public key.

        Raises:
            UnsupportedFormat: unknown format version or algorithm, not a public key,
                wrong size, or not a valid key.
            TypeError: data is not bytes-like.
        """
        algorithm, raw = _parse(data, _KIND_PUBLIC)
        try:
            return cls(algorithm.name, raw)
        except ValueError:
            raise UnsupportedFormat(
                _WHAT[_KIND_PUBLIC], FORMAT_VERSION, "malformed: invalid key"
            ) from None


@dataclass(frozen=True)
class PrivateKey:
    """An HPKE private key. repr never shows the raw bytes.

    Attributes:
        algorithm: "mlkem768-x25519" or "x25519".
        raw: the raw private key bytes: for the hybrid, the ML-KEM-768 seed (64)
            then the X25519 private key (32).

    Raises:
        ValueError: unknown or unsupported algorithm, or raw has the wrong size.
    """

    algorithm: str
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _hpke.to_private(_hpke.by_name(self.algorithm), self.raw)

    def public_key(self) -> PublicKey:
        """Return the matching public key."""
        algorithm = _hpke.by_name(self.algorithm)
        return PublicKey(self.algorithm, _hpke.public_raw(algorithm, self.raw))

    def to_bytes(self) -> bytes:
        """Serialize: format version, kind 0x05, algorithm id, raw. Secret: protect it."""
        return _header(_KIND_PRIVATE, self.algorithm) + self.raw

    @classmethod
    def from_bytes(cls, data: bytes) -> PrivateKey:
        """Parse a serialized private key.

        Raises:
            UnsupportedFormat: unknown format version or algorithm, not a private key,
                or wrong size.
            TypeError: data is not bytes-like.
        """
        algorithm, raw = _parse(data, _KIND_PRIVATE)
        try:
            return cls(algorithm.name, raw)
        except ValueError:  # the message could echo key bytes: drop it
            raise UnsupportedFormat(
                _WHAT[_KIND_PRIVATE], FORMAT_VERSION, "malformed: invalid key"
            ) from None


def generate_keypair(algorithm: str = DEFAULT_ALGORITHM) -> tuple[PrivateKey, PublicKey]:
    """Generate a key pair from the OS random source.

    Args:
        algorithm: "mlkem768-x25519" or "x25519"; by default the hybrid where supported.

    Returns:
        (private key, public key).

    Raises:
        ValueError: unknown algorithm, or the hybrid where this cryptography lacks it.
    """
    private = PrivateKey(algorithm, _hpke.generate_raw(_hpke.by_name(algorithm)))
    return private, private.public_key()


def _header(kind: int, algorithm: str) -> bytes:
    return _blob.header(kind) + bytes([_hpke.by_name(algorithm).ident])


def _parse(data: bytes, kind: int) -> tuple[_hpke.Algorithm, bytes]:
    """Check header (`crypto._blob`), algorithm and size; return the algorithm and raw bytes.

    Raises:
        UnsupportedFormat: anything wrong, never IndexError.
        TypeError: data is not bytes-like.
    """
    data = _blob.read_header(data, kind)
    algorithm = _blob.read_algorithm(data, kind)
    size = algorithm.public_size if kind == _KIND_PUBLIC else algorithm.private_size
    _blob.check_size(data, kind, _HEADER_SIZE + size, exact=True)
    return algorithm, data[_HEADER_SIZE:]
