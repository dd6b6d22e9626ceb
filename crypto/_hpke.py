"""The HPKE algorithms of the package and their `cryptography` objects (RFC 9180).

Keys are handled as (algorithm, raw bytes) here; `crypto.hpke_keys` wraps them
in dataclasses. Each algorithm is one fixed suite, never negotiated:

    id    name               KEM                         KDF          AEAD
    0x01  "x25519"           DHKEM(X25519, HKDF-SHA256)  HKDF-SHA256  AES-256-GCM
    0x02  "mlkem768-x25519"  ML-KEM-768 + X25519 hybrid  HKDF-SHA256  AES-256-GCM

Raw key bytes:

    x25519            public:  X25519 public key (32)
                      private: X25519 private key (32)
    mlkem768-x25519   public:  ML-KEM-768 encapsulation key (1184) || X25519 public key (32)
                      private: ML-KEM-768 seed (64) || X25519 private key (32)

The hybrid is offered only when the installed `cryptography` (and the OpenSSL
it is built with) supports it; this is detected once, at import. Needs
`cryptography` 47 or later (its `hpke` module).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

__all__ = [
    "ALGORITHMS",
    "HYBRID",
    "HYBRID_AVAILABLE",
    "X25519",
    "Algorithm",
    "by_id",
    "by_name",
    "generate_raw",
    "public_raw",
    "to_private",
    "to_public",
]

X25519 = "x25519"
HYBRID = "mlkem768-x25519"
_X25519_SIZE = 32
_MLKEM_SEED_SIZE = 64
_MLKEM_PUBLIC_SIZE = 1184
_MLKEM_CIPHERTEXT_SIZE = 1088

HpkePublic = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
HpkePrivate = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


def _hybrid_available() -> bool:
    """True if this `cryptography` has the ML-KEM-768 + X25519 KEM and a working ML-KEM."""
    if not hasattr(hpke.KEM, "MLKEM768_X25519") or not hasattr(hpke, "MLKEM768X25519PublicKey"):
        return False
    try:
        mlkem.MLKEM768PrivateKey.generate()
    except UnsupportedAlgorithm:  # built against an OpenSSL without ML-KEM
        return False
    return True


HYBRID_AVAILABLE = _hybrid_available()


@dataclass(frozen=True)
class Algorithm:
    """One HPKE suite: its name, its id byte in blobs, and its sizes in bytes."""

    name: str
    ident: int
    public_size: int
    private_size: int
    enc_size: int  # the encapsulated key that starts every HPKE ciphertext

    @property
    def hybrid(self) -> bool:
        """True for ML-KEM-768 + X25519."""
        return self.name == HYBRID

    def suite(self) -> hpke.Suite:
        """The HPKE suite: this KEM, HKDF-SHA256, AES-256-GCM."""
        kem = hpke.KEM.MLKEM768_X25519 if self.hybrid else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


_ALL = (
    Algorithm(X25519, 0x01, _X25519_SIZE, _X25519_SIZE, _X25519_SIZE),
    Algorithm(
        HYBRID,
        0x02,
        _MLKEM_PUBLIC_SIZE + _X25519_SIZE,
        _MLKEM_SEED_SIZE + _X25519_SIZE,
        _MLKEM_CIPHERTEXT_SIZE + _X25519_SIZE,
    ),
)
# The algorithms this installation can use, by name.
ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in _ALL if not a.hybrid or HYBRID_AVAILABLE}


def by_name(name: object) -> Algorithm:
    """Return a usable algorithm by name.

    Raises:
        ValueError: unknown name, or the hybrid where this installation lacks it.
    """
    if isinstance(name, str) and name in ALGORITHMS:
        return ALGORITHMS[name]
    if name == HYBRID:
        raise ValueError(f"HPKE algorithm {HYBRID!r} is not supported by this cryptography")
    raise ValueError(f"unknown HPKE algorithm {name!r}: expected one of {', '.join(ALGORITHMS)}")


def by_id(ident: int) -> Algorithm:
    """Return a usable algorithm by its id byte.

    Raises:
        ValueError: unknown id, or the hybrid where this installation lacks it.
    """
    for algorithm in _ALL:
        if algorithm.ident == ident:
            return by_name(algorithm.name)
    raise ValueError(f"unknown HPKE algorithm id {ident}")


def generate_raw(algorithm: Algorithm) -> bytes:
    """Generate a private key from the OS random source; return its raw bytes."""
    x_private = x25519.X25519PrivateKey.generate().private_bytes_raw()
    if algorithm.hybrid:
        return mlkem.MLKEM768PrivateKey.generate().private_bytes_raw() + x_private
    return x_private


def public_raw(algorithm: Algorithm, private: bytes) -> bytes:
    """Return the raw public key of a raw private key.

    Raises:
        ValueError: the bytes are not a private key of that algorithm.
    """
    key = to_private(algorithm, private)
    if isinstance(key, x25519.X25519PrivateKey):
        return key.public_key().public_bytes_raw()
    # The hybrid object exposes no bytes: rebuild each half from the raw private key.
    ml_public = mlkem.MLKEM768PrivateKey.from_seed_bytes(private[:_MLKEM_SEED_SIZE]).public_key()
    x_private = x25519.X25519PrivateKey.from_private_bytes(private[_MLKEM_SEED_SIZE:])
    return ml_public.public_bytes_raw() + x_private.public_key().public_bytes_raw()


def to_public(algorithm: Algorithm, raw: bytes) -> HpkePublic:
    """Build the `cryptography` public key object.

    Raises:
        ValueError: the bytes are not a public key of that algorithm (wrong size, an
            invalid ML-KEM key, or a low-order X25519 point).
    """
    _check_size(raw, algorithm.public_size, "public")
    x_public = x25519.X25519PublicKey.from_public_bytes(raw[-_X25519_SIZE:])
    # A low-order X25519 point would give every sender the same, public, shared secret.
    x25519.X25519PrivateKey.generate().exchange(x_public)  # ValueError on such a point
    if algorithm.hybrid:
        ml_public = mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PUBLIC_SIZE])
        return hpke.MLKEM768X25519PublicKey(ml_public, x_public)
    return x_public


def to_private(algorithm: Algorithm, raw: bytes) -> HpkePrivate:
    """Build the `cryptography` private key object.

    Raises:
        ValueError: the bytes are not a private key of that algorithm.
    """
    _check_size(raw, algorithm.private_size, "private")
    x_private = x25519.X25519PrivateKey.from_private_bytes(raw[-_X25519_SIZE:])
    if algorithm.hybrid:
        ml_private = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM_SEED_SIZE])
        return hpke.MLKEM768X25519PrivateKey(ml_private, x_private)
    return x_private


def _check_size(raw: bytes, size: int, which: str) -> None:
    if not isinstance(raw, bytes) or len(raw) != size:
        raise ValueError(f"a raw {which} key of this algorithm must be {size} bytes")
