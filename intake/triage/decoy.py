"""A decoy officer key: what a login opens when no active officer has the id it names.

Why: opening an officer's key is an Argon2id run (~150-550 ms), and a login
whose id is nobody's (unknown, revoked, or no id at all) used to be refused
after one query. The difference in answer time told whoever tried ids which
ones exist. So the login desk opens this key with the typed passphrase, at
the same Argon2id cost as officers' keys (the default parameters), and only
then refuses.

What it is: a private key generated and wrapped (`crypto.wrap_private_key`)
once per login desk, so once per process, under 32 random bytes that are
thrown away at once. Who can decrypt it: nobody. Each attempt derives a key
from the typed passphrase and fails as a wrong passphrase does for a real
officer (an empty passphrase fails before the derivation, for both alike).
It is kept in memory only and protects nothing: the key inside is never used.
"""

from __future__ import annotations

import secrets
import threading
from contextlib import suppress

from crypto import (
    BadPassphrase,
    KdfParams,
    generate_keypair,
    unwrap_private_key,
    wrap_private_key,
    wrapped_key_params,
)

__all__ = ["DecoyKey"]

_OWNER = "decoy"  # no officer's: recipients are `officer:<id>`


class DecoyKey:
    """A wrapped key nobody can open, tried with the passphrase of a login that has no officer."""

    def __init__(self, params: KdfParams) -> None:
        private, _public = generate_keypair()
        # Who can decrypt: nobody (its passphrase is forgotten on the next line).
        self._blob = wrap_private_key(private, secrets.token_bytes(32), _OWNER, params)
        self._lock = threading.Lock()
        self._opened = 0

    @property
    def params(self) -> KdfParams:
        """The Argon2id cost of each attempt (read back from the wrapped key itself)."""
        return wrapped_key_params(self._blob)

    @property
    def opened(self) -> int:
        """How many attempts were made on it (in this process)."""
        return self._opened

    def open(self, passphrase: bytes) -> None:
        """Derive a key from `passphrase` (Argon2id) and fail to open the decoy with it."""
        with suppress(BadPassphrase):
            unwrap_private_key(self._blob, passphrase, _OWNER)
        with self._lock:
            self._opened += 1
