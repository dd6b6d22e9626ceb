"""Tests of crypto.envelope's wrapped data keys: binding, KEK versions, rotation, rewrap."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crypto.envelope import (
    FORMAT_VERSION,
    Binding,
    DataKey,
    new_data_key,
    open_field,
    rewrap_data_key,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_version,
)
from crypto.errors import (
    CryptoError,
    KeyNotFound,
    KeyRetired,
    Misplaced,
    Tampered,
    UnsupportedFormat,
)
from crypto.keyring import Keyring, KeyVersion

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"I was followed from the courthouse by two men"
NOTES = Binding("case", "HRD-7QX2", "notes")
FIELD_MIN = 102
WRAPPED_SIZE = 74


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(NOW)


@pytest.fixture
def dek() -> DataKey:
    return new_data_key()


def flip(blob: bytes, offset: int) -> bytes:
    return blob[:offset] + bytes([blob[offset] ^ 0x01]) + blob[offset + 1 :]


def test_wrap_then_unwrap_round_trips(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    assert len(wrapped) == WRAPPED_SIZE
    assert wrapped[:2] == bytes([FORMAT_VERSION, 0x01])
    assert wrapped.find(dek) == -1
    assert wrapped_key_version(wrapped) == 1
    assert unwrap_data_key(keyring, wrapped, "case", "HRD-7QX2") == dek


def test_wrapped_key_moved_to_another_record_is_misplaced(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    with pytest.raises(Misplaced) as caught:
        unwrap_data_key(keyring, wrapped, "case", "HRD-9ZZ1")
    assert caught.value.expected == ("case", "HRD-9ZZ1", "dek")
    with pytest.raises(Misplaced):
        unwrap_data_key(keyring, wrapped, "draft", "HRD-7QX2")


def _wrapped_error(offset: int) -> type[CryptoError]:
    if offset < 2:
        return UnsupportedFormat
    if offset < 6:
        return KeyNotFound  # the blob now names a KEK version the keyring lacks
    if offset < 14:
        return Misplaced
    return Tampered  # nonce, wrapped key, tag


def test_every_flipped_byte_of_a_wrapped_key_raises_its_typed_error(
    keyring: Keyring, dek: DataKey
) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    for offset in range(len(wrapped)):
        with pytest.raises(_wrapped_error(offset)):
            unwrap_data_key(keyring, flip(wrapped, offset), "case", "HRD-7QX2")


def test_relabelled_kek_version_fails_authentication(keyring: Keyring, dek: DataKey) -> None:
    rotated = keyring.rotate("kek", NOW)
    wrapped = wrap_data_key(rotated, dek, "case", "HRD-7QX2")
    relabelled = wrapped[:2] + (1).to_bytes(4, "big") + wrapped[6:]
    with pytest.raises(Tampered):
        unwrap_data_key(rotated, relabelled, "case", "HRD-7QX2")


def test_unknown_kek_version_is_key_not_found(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring.rotate("kek", NOW), dek, "case", "HRD-7QX2")
    with pytest.raises(KeyNotFound) as caught:
        unwrap_data_key(keyring, wrapped, "case", "HRD-7QX2")
    assert (caught.value.kind, caught.value.version) == ("kek", 2)


def test_retired_kek_version_is_key_retired(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    retired = keyring.rotate("kek", NOW).retire("kek", KeyVersion(1), NOW)
    with pytest.raises(KeyRetired) as caught:
        unwrap_data_key(retired, wrapped, "case", "HRD-7QX2")
    assert (caught.value.kind, caught.value.version) == ("kek", 1)


def test_rotation_then_rewrap_moves_keys_without_touching_fields(
    keyring: Keyring, dek: DataKey
) -> None:
    # Given a record written under KEK version 1
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    field = seal_field(dek, SECRET, NOTES)
    # When the KEK rotates, the old wrapped key still unwraps
    rotated = keyring.rotate("kek", NOW)
    assert unwrap_data_key(rotated, wrapped, "case", "HRD-7QX2") == dek
    # and rewrap moves it to version 2
    rewrapped = rewrap_data_key(rotated, wrapped, "case", "HRD-7QX2")
    assert wrapped_key_version(rewrapped) == 2
    # Then version 1 can be retired and the record still opens, field unchanged
    retired = rotated.retire("kek", KeyVersion(1), NOW)
    assert open_field(unwrap_data_key(retired, rewrapped, "case", "HRD-7QX2"), field, NOTES) == (
        SECRET
    )
    # and a rerun is a no-op
    assert rewrap_data_key(retired, rewrapped, "case", "HRD-7QX2") == rewrapped


def test_new_wraps_use_the_primary(keyring: Keyring, dek: DataKey) -> None:
    rotated = keyring.rotate("kek", NOW).rotate("kek", NOW)
    assert wrapped_key_version(wrap_data_key(rotated, dek, "case", "1")) == 3


def test_rewrap_checks_the_record(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    with pytest.raises(Misplaced):
        rewrap_data_key(keyring.rotate("kek", NOW), wrapped, "case", "HRD-9ZZ1")
    with pytest.raises(Tampered):
        rewrap_data_key(keyring, flip(wrapped, 40), "case", "HRD-7QX2")


@pytest.mark.parametrize("extra", [-WRAPPED_SIZE, -1, -40, 1])
def test_wrong_size_wrapped_keys_are_unsupported(
    keyring: Keyring, dek: DataKey, extra: int
) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    resized = wrapped[:extra] if extra < 0 else wrapped + bytes(extra)
    with pytest.raises(UnsupportedFormat):
        unwrap_data_key(keyring, resized, "case", "HRD-7QX2")
    with pytest.raises(UnsupportedFormat):
        wrapped_key_version(resized)


def test_all_truncations_of_a_wrapped_key_are_unsupported(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    for size in range(len(wrapped)):
        with pytest.raises(UnsupportedFormat):
            unwrap_data_key(keyring, wrapped[:size], "case", "HRD-7QX2")


def test_a_field_is_not_a_wrapped_key(keyring: Keyring, dek: DataKey) -> None:
    field = seal_field(dek, bytes(FIELD_MIN), NOTES)[:WRAPPED_SIZE]
    with pytest.raises(UnsupportedFormat, match="field blob"):
        wrapped_key_version(field)
