"""Keyed MACs of records the database holds but must not be able to forge.

The keyring holds one 32-byte authentication key (`Keyring.auth_key`). Each
use derives its own MAC key with HKDF-SHA256 (info names the purpose: "key
directory", "audit chain"), so a tag made for one purpose never verifies for
another. A tag is HMAC-SHA256 over the length-prefixed encoding of the
fields, compared in constant time. Who can make or check a tag: whoever holds
the keyring (the service and security staff), never a database writer alone.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto._encoding import length_prefixed

__all__ = ["Authenticator", "fingerprint"]

_LABEL = b"hrd-intake/authenticator/v1/"
TAG_SIZE = 32


class Authenticator:
    """HMAC-SHA256 under a key derived from the keyring's authentication key for one purpose.

    Raises:
        ValueError: the key is not 32 bytes, or the purpose is empty.
    """

    def __init__(self, auth_key: bytes, purpose: str) -> None:
        if len(auth_key) != 32:
            raise ValueError("the authentication key must be 32 bytes")
        if not purpose:
            raise ValueError("a MAC key needs a purpose")
        self.purpose = purpose
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL + purpose.encode()
        ).derive(auth_key)

    def tag(self, *fields: str) -> bytes:
        """The 32-byte tag of these fields (in order)."""
        mac = hmac.HMAC(self._key, hashes.SHA256())
        mac.update(length_prefixed(self.purpose, *fields))
        return mac.finalize()

    def verify(self, tag: bytes | None, *fields: str) -> bool:
        """Whether `tag` is the tag of these fields (constant time; None never verifies)."""
        if tag is None or len(tag) != TAG_SIZE:
            return False
        mac = hmac.HMAC(self._key, hashes.SHA256())
        mac.update(length_prefixed(self.purpose, *fields))
        try:
            mac.verify(bytes(tag))
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Authenticator({self.purpose!r})"


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of a public key's bytes, hex: what the keyring pins for the recovery key."""
    return hashlib.sha256(public_key).hexdigest()
