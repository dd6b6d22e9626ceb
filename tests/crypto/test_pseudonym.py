"""Tests of crypto.pseudonym: keyed, versioned pseudonyms of platform identities."""

from __future__ import annotations

import hashlib
import hmac
import string
from datetime import UTC, datetime

import pytest

from crypto.errors import KeyNotFound, KeyRetired
from crypto.keyring import Keyring, KeyVersion
from crypto.pseudonym import pseudonym, pseudonym_candidates

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
V1, V2, V3 = KeyVersion(1), KeyVersion(2), KeyVersion(3)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(NOW)


def test_pseudonyms_are_stable_hex_under_the_primary(keyring: Keyring) -> None:
    version, digest = pseudonym(keyring, "telegram-user", "123456789")
    assert version == V1
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())
    assert pseudonym(keyring, "telegram-user", "123456789") == (version, digest)


def test_construction_is_hmac_sha256_of_length_prefixed_parts(keyring: Keyring) -> None:
    def part(text: str) -> bytes:
        data = text.encode()
        return len(data).to_bytes(4, "big") + data

    message = part("hrd-intake/v1/pseudonym") + part("matrix-user") + part("@a:example.org")
    key = keyring.material("pseudonym", V1)
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    assert pseudonym(keyring, "matrix-user", "@a:example.org") == (V1, expected)


def test_pseudonyms_differ_per_namespace_value_and_keyring(keyring: Keyring) -> None:
    digests = {
        pseudonym(keyring, "telegram-user", "42")[1],
        pseudonym(keyring, "matrix-user", "42")[1],
        pseudonym(keyring, "telegram-user", "43")[1],
        pseudonym(keyring, "a", "bc")[1],
        pseudonym(keyring, "ab", "c")[1],
        pseudonym(Keyring.generate(NOW), "telegram-user", "42")[1],
    }
    assert len(digests) == 6


def test_pseudonym_keys_are_not_the_kek(keyring: Keyring) -> None:
    kek = keyring.material("kek", V1)
    message = b"\x00\x00\x00\x17hrd-intake/v1/pseudonym\x00\x00\x00\x01n\x00\x00\x00\x01v"
    assert pseudonym(keyring, "n", "v")[1] != hmac.new(kek, message, hashlib.sha256).hexdigest()


def test_pseudonyms_differ_per_version(keyring: Keyring) -> None:
    rotated = keyring.rotate("pseudonym", NOW)
    old = pseudonym(rotated, "telegram-user", "42", V1)
    new = pseudonym(rotated, "telegram-user", "42")
    assert old == pseudonym(keyring, "telegram-user", "42")
    assert new[0] == V2
    assert new[1] != old[1]


def test_kek_rotation_does_not_change_pseudonyms(keyring: Keyring) -> None:
    assert pseudonym(keyring.rotate("kek", NOW), "n", "v") == pseudonym(keyring, "n", "v")


def test_unknown_and_retired_versions(keyring: Keyring) -> None:
    with pytest.raises(KeyNotFound) as missing:
        pseudonym(keyring, "telegram-user", "42", V2)
    assert (missing.value.kind, missing.value.version) == ("pseudonym", 2)
    retired = keyring.rotate("pseudonym", NOW).retire("pseudonym", V1, NOW)
    with pytest.raises(KeyRetired):
        pseudonym(retired, "telegram-user", "42", V1)


def test_candidates_before_rotation(keyring: Keyring) -> None:
    assert pseudonym_candidates(keyring, "n", "v") == [pseudonym(keyring, "n", "v")]


def test_candidates_cover_old_versions_primary_first(keyring: Keyring) -> None:
    ring = keyring.rotate("pseudonym", NOW).rotate("pseudonym", NOW)
    candidates = pseudonym_candidates(ring, "telegram-user", "42")
    assert [version for version, _ in candidates] == [V3, V2, V1]
    assert candidates[-1] == pseudonym(keyring, "telegram-user", "42")
    assert len({digest for _, digest in candidates}) == 3


def test_candidates_skip_retired_versions(keyring: Keyring) -> None:
    ring = keyring.rotate("pseudonym", NOW).rotate("pseudonym", NOW)
    ring = ring.retire("pseudonym", V1, NOW)
    assert [v for v, _ in pseudonym_candidates(ring, "telegram-user", "42")] == [V3, V2]


def test_empty_namespace_is_refused(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="namespace"):
        pseudonym(keyring, "", "42")
    with pytest.raises(ValueError, match="namespace"):
        pseudonym_candidates(keyring, "", "42")
