"""Tests of the keyring in memory (crypto._keyset, exported by crypto.keyring)."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crypto.errors import KeyNotFound, KeyRetired
from crypto.keyring import KeyEntry, Keyring, KeyVersion

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(NOW)


def test_generate_makes_version_1_of_each_kind(keyring: Keyring) -> None:
    for kind in ("kek", "pseudonym"):
        assert keyring.primary(kind) == 1
        (entry,) = keyring.versions(kind)
        assert entry.version == 1
        assert len(entry.material) == 32
        assert entry.created_at == NOW
        assert not entry.retired
    assert keyring.material("kek", KeyVersion(1)) != keyring.material("pseudonym", KeyVersion(1))
    assert Keyring.generate(NOW).material("kek", KeyVersion(1)) != keyring.material(
        "kek", KeyVersion(1)
    )


def test_times_are_stored_in_utc_and_naive_times_refused() -> None:
    plus_two = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    entry = Keyring.generate(plus_two).versions("kek")[0]
    assert entry.created_at == NOW
    assert entry.created_at.tzinfo == UTC
    with pytest.raises(ValueError, match="aware"):
        Keyring.generate(datetime(2025, 3, 1, 12, 0))


def test_unknown_version_raises_key_not_found(keyring: Keyring) -> None:
    with pytest.raises(KeyNotFound) as caught:
        keyring.material("kek", KeyVersion(7))
    assert (caught.value.kind, caught.value.version) == ("kek", 7)


def test_rotate_adds_a_new_primary_and_keeps_the_old(keyring: Keyring) -> None:
    later = NOW + timedelta(days=1)
    rotated = keyring.rotate("kek", later)
    assert rotated.primary("kek") == 2
    assert [e.version for e in rotated.versions("kek")] == [1, 2]
    assert rotated.material("kek", KeyVersion(1)) == keyring.material("kek", KeyVersion(1))
    assert rotated.versions("kek")[1].created_at == later
    assert rotated.pseudonym_keys == keyring.pseudonym_keys  # the other kind is untouched
    assert keyring.primary("kek") == 1  # immutable: the original is unchanged


def test_retire_destroys_material(keyring: Keyring) -> None:
    later = NOW + timedelta(days=2)
    retired = keyring.rotate("pseudonym", NOW).retire("pseudonym", KeyVersion(1), later)
    entry = retired.versions("pseudonym")[0]
    assert entry.retired
    assert entry.material == b""
    assert entry.retired_at == later
    with pytest.raises(KeyRetired) as caught:
        retired.material("pseudonym", KeyVersion(1))
    assert (caught.value.kind, caught.value.version) == ("pseudonym", 1)
    assert retired.retire("pseudonym", KeyVersion(1), later + timedelta(days=1)) is retired


def test_retire_refuses_the_primary(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="primary and cannot be retired; rotate"):
        keyring.retire("kek", KeyVersion(1), NOW)


def test_retire_unknown_version_raises_key_not_found(keyring: Keyring) -> None:
    with pytest.raises(KeyNotFound):
        keyring.retire("kek", KeyVersion(9), NOW)


def test_rotate_after_retire_never_reuses_a_version(keyring: Keyring) -> None:
    ring = keyring.rotate("kek", NOW).rotate("kek", NOW)
    ring = ring.retire("kek", KeyVersion(1), NOW).retire("kek", KeyVersion(2), NOW)
    assert ring.rotate("kek", NOW).primary("kek") == 4


def test_unknown_kind_is_refused(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="unknown key kind"):
        keyring.primary("hpke")  # type: ignore[arg-type]


def test_inconsistent_keyrings_are_refused(keyring: Keyring) -> None:
    with pytest.raises(ValueError, match="not in the keyring"):
        dataclasses.replace(keyring, kek_primary=KeyVersion(2))
    retired = keyring.rotate("kek", NOW).retire("kek", KeyVersion(1), NOW)
    with pytest.raises(ValueError, match="is retired"):
        dataclasses.replace(retired, kek_primary=KeyVersion(1))
    entry = keyring.keks[0]
    with pytest.raises(ValueError, match="twice"):
        dataclasses.replace(keyring, keks=(entry, entry))
    with pytest.raises(ValueError, match="32 bytes"):
        KeyEntry(KeyVersion(1), b"short", NOW)
    with pytest.raises(ValueError, match="no material"):
        KeyEntry(KeyVersion(1), bytes(32), NOW, retired_at=NOW)
    with pytest.raises(ValueError, match="version"):
        KeyEntry(KeyVersion(0), bytes(32), NOW)


def test_keyring_is_frozen(keyring: Keyring) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        keyring.kek_primary = KeyVersion(2)  # type: ignore[misc]


def test_repr_shows_no_material(keyring: Keyring) -> None:
    ring = keyring.rotate("kek", NOW)
    secrets = [e.material for kind in ("kek", "pseudonym") for e in ring.versions(kind)]
    for text in (repr(ring), str(ring), repr(ring.keks[0]), str(ring.pseudonym_keys[0])):
        for material in secrets:
            assert material.hex() not in text
            assert repr(material) not in text
            assert base64.b64encode(material).decode() not in text
        assert "material" not in text
