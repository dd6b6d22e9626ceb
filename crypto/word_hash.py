"""Slow keyed hashes of short secret words (a defender's check-in and duress words).

Such words are short and guessable, so a plain hash would fall to a
dictionary in seconds. Each is hashed with Argon2id (memory-hard) and a
*pepper*: Argon2's secret input, derived with HKDF-SHA256 from a pseudonym
key of the keyring, which never lives in the database. A stolen database
alone gives nothing to try guesses against; with the keyring too, every
guess still costs one Argon2id run.

One salt serves both words of a check-in: a single derivation of an answer
is compared (in constant time) with both digests, so checking an answer
costs one Argon2id run, and the answer reveals nothing by its timing about
which word it matched.

Words are normalised (NFKC, case folded, whitespace collapsed) before
hashing, so "Sunflower " and "sunflower" are one word.
"""

from __future__ import annotations

import hmac
import os
import unicodedata
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto._keyset import Keyring, KeyVersion

__all__ = ["WordHashParams", "hash_word", "new_word_salt", "normalise_word", "word_matches"]

_PEPPER_INFO = b"hrd-intake/v1/word-hash-pepper"
_DIGEST_SIZE = 32
_SALT_SIZE = 16


@dataclass(frozen=True)
class WordHashParams:
    """Argon2id cost, stored beside each digest (OWASP's minimum: 19 MiB, 2 passes).

    `pepper_version` is the pseudonym key version the pepper comes from.
    """

    memory_kib: int = 19 * 1024
    iterations: int = 2
    lanes: int = 1
    pepper_version: int = 0

    def __post_init__(self) -> None:
        if self.memory_kib < 8 * self.lanes or self.iterations < 1 or self.lanes < 1:
            raise ValueError("Argon2id needs iterations >= 1, lanes >= 1, memory >= 8 KiB per lane")


def normalise_word(word: str) -> str:
    """The form a word is hashed in: NFKC, case folded, inner whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", word).casefold().split())


def new_word_salt() -> bytes:
    return os.urandom(_SALT_SIZE)


def _pepper(keyring: Keyring, version: KeyVersion) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PEPPER_INFO)
    return hkdf.derive(keyring.material("pseudonym", version))


def hash_word(
    keyring: Keyring, word: str, salt: bytes, params: WordHashParams
) -> tuple[WordHashParams, bytes]:
    """Hash `word`; returns the parameters used (with the pepper's key version) and the digest.

    Who can check a guess against the digest: only a holder of the keyring
    (the pepper), at one Argon2id run per guess.

    Raises:
        KeyNotFound, KeyRetired: the pepper's pseudonym key version is gone.
    """
    version = (
        keyring.primary("pseudonym")
        if params.pepper_version == 0
        else KeyVersion(params.pepper_version)
    )
    used = WordHashParams(params.memory_kib, params.iterations, params.lanes, int(version))
    kdf = Argon2id(
        salt=salt,
        length=_DIGEST_SIZE,
        iterations=used.iterations,
        lanes=used.lanes,
        memory_cost=used.memory_kib,
        secret=_pepper(keyring, version),
    )
    return used, kdf.derive(normalise_word(word).encode("utf-8"))


def word_matches(candidate: bytes, digest: bytes) -> bool:
    """Constant-time comparison of a derived candidate with a stored digest."""
    return hmac.compare_digest(candidate, digest)
