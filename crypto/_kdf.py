"""The passphrase KDF: Argon2id, its bounded cost parameters and their JSON entry.

Both passphrase-protected formats, the keyring file (`crypto.keyring`) and an
officer's wrapped private key (`crypto.passphrase_wrap`), derive their 32-byte
wrapping key as Argon2id(passphrase, salt, params) and store the parameters as
one JSON entry:

    "kdf": {"name": "argon2id", "salt": b64(16 random bytes),
            "memory_kib": int, "iterations": int, "lanes": int}

The parameters read back are bounded (`KdfParams`) before any derivation, so an
edited file or row cannot make opening exhaust memory or time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from crypto._encoding import b64, from_b64

__all__ = [
    "DEFAULT_PARAMS",
    "KDF_NAME",
    "MAX_ITERATIONS",
    "MAX_LANES",
    "MAX_MEMORY_KIB",
    "PRODUCTION_MEMORY_FLOOR_KIB",
    "KdfParams",
    "check_kdf_params",
    "derive_key",
    "kdf_entry",
    "new_salt",
    "read_kdf_entry",
]

KDF_NAME = "argon2id"
_KEY_SIZE = 32
_SALT_SIZE = 16
# Bounds checked before any derivation: one edited header or row must not make an
# unlock burn minutes or exhaust memory before authentication can fail.
MAX_MEMORY_KIB = 1024 * 1024  # 1 GiB
MAX_ITERATIONS = 10
MAX_LANES = 8
# Below this, a passphrase-derived key is for tests only (production: 64 MiB and up).
PRODUCTION_MEMORY_FLOOR_KIB = 64 * 1024
_ENTRY_KEYS = frozenset({"name", "salt", "memory_kib", "iterations", "lanes"})


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters for a passphrase (the keyring file's, an officer's).

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
        raise ValueError(f"KDF memory {params.memory_kib} KiB is below the floor of {floor_kib} KiB")
    return params


DEFAULT_PARAMS = KdfParams()  # 64 MiB, 3 passes, 4 lanes: about 150-200 ms


def new_salt() -> bytes:
    """A fresh salt from the OS random source, drawn for every wrap or save."""
    return os.urandom(_SALT_SIZE)


def derive_key(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Derive the 32-byte wrapping key: Argon2id(passphrase, salt, params)."""
    check_kdf_params(params)  # again: a KdfParams may have been built around its checks
    kdf = Argon2id(
        salt=salt,
        length=_KEY_SIZE,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase)


def kdf_entry(params: KdfParams, salt: bytes) -> dict[str, Any]:
    """The "kdf" JSON entry (layout in the module docstring)."""
    return {
        "name": KDF_NAME,
        "salt": b64(salt),
        "memory_kib": params.memory_kib,
        "iterations": params.iterations,
        "lanes": params.lanes,
    }


def read_kdf_entry(entry: object, refuse: Callable[[str], Exception]) -> tuple[KdfParams, bytes]:
    """Validate a "kdf" JSON entry read back; return its parameters and salt.

    Args:
        entry: the decoded JSON value.
        refuse: makes the caller's error from a reason (each format has its own).

    Raises:
        What refuse returns: not a dict of exactly the five entries, another KDF,
            parameters out of bounds, or a salt that is not 16 bytes of base64.
    """
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise refuse("malformed: bad kdf entry")
    if entry["name"] != KDF_NAME:
        raise refuse(f"unsupported KDF (only {KDF_NAME} is accepted)")
    try:
        params = KdfParams(entry["memory_kib"], entry["iterations"], entry["lanes"])
    except ValueError as exc:
        raise refuse(f"KDF parameters refused: {exc}") from None
    try:
        salt = from_b64(entry["salt"])
    except ValueError:
        raise refuse("malformed: salt is not base64") from None
    if len(salt) != _SALT_SIZE:
        raise refuse("malformed: salt has the wrong size")
    return params, salt
