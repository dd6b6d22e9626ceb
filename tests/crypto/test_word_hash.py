"""Tests of crypto.word_hash: Argon2id with a keyring pepper for short secret words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crypto import WordHashParams, hash_word, new_word_salt, normalise_word, word_matches
from crypto.errors import KeyRetired
from crypto.keyring import Keyring, KeyVersion

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CHEAP = WordHashParams(memory_kib=64, iterations=1)


def test_same_word_same_digest_and_normalised() -> None:
    keyring = Keyring.generate(NOW)
    salt = new_word_salt()
    used, digest = hash_word(keyring, "Sunflower", salt, CHEAP)
    assert used.pepper_version == 1 and len(digest) == 32
    assert word_matches(hash_word(keyring, "  sunFLOWER ", salt, used)[1], digest)
    assert not word_matches(hash_word(keyring, "sunflowers", salt, used)[1], digest)
    assert normalise_word("Ｓun  flower") == "sun flower"


def test_the_pepper_comes_from_the_keyring() -> None:
    salt = new_word_salt()
    one, other = Keyring.generate(NOW), Keyring.generate(NOW)
    assert hash_word(one, "word", salt, CHEAP)[1] != hash_word(other, "word", salt, CHEAP)[1]
    assert hash_word(one, "word", salt, CHEAP)[1] != hash_word(one, "word", new_word_salt(), CHEAP)[1]


def test_a_rotated_keyring_still_checks_words_hashed_before() -> None:
    keyring = Keyring.generate(NOW)
    salt = new_word_salt()
    used, digest = hash_word(keyring, "word", salt, CHEAP)
    rotated = keyring.rotate("pseudonym", NOW)
    assert hash_word(rotated, "word", salt, used)[1] == digest
    assert hash_word(rotated, "word", salt, CHEAP)[0].pepper_version == 2
    with pytest.raises(KeyRetired):
        hash_word(rotated.retire("pseudonym", KeyVersion(1), NOW), "word", salt, used)


def test_unusable_costs_are_refused() -> None:
    with pytest.raises(ValueError, match="Argon2id"):
        WordHashParams(memory_kib=4, iterations=1)
