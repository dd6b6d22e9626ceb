"""Tests of crypto.envelope's bindings and sealed fields."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from crypto.envelope import (
    FORMAT_VERSION,
    Binding,
    DataKey,
    new_data_key,
    open_field,
    seal_field,
    wrap_data_key,
)
from crypto.errors import CryptoError, Misplaced, Tampered, UnsupportedFormat, WrongKey
from crypto.keyring import Keyring

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


# Bindings


def test_associated_data_is_unambiguous() -> None:
    assert Binding("a", "bc", "d").associated_data() != Binding("ab", "c", "d").associated_data()
    assert Binding("a", "b", "cd").associated_data() != Binding("a", "bc", "d").associated_data()
    assert NOTES.associated_data()[0] == FORMAT_VERSION
    assert NOTES.associated_data() == Binding("case", "HRD-7QX2", "notes").associated_data()
    assert "é".encode() in Binding("case", "é", "notes").associated_data()


@pytest.mark.parametrize(
    ("record_type", "record_id", "field"),
    [("", "1", "notes"), ("case", "", "notes"), ("case", "1", ""), ("case", "\ud800", "x")],
)
def test_invalid_bindings_are_refused(record_type: str, record_id: str, field: str) -> None:
    with pytest.raises(ValueError):
        Binding(record_type, record_id, field)


# Fields


def test_seal_then_open_round_trips(dek: DataKey) -> None:
    for plaintext in (SECRET, b"", os.urandom(100_000)):
        assert open_field(dek, seal_field(dek, plaintext, NOTES), NOTES) == plaintext


def test_field_layout(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    assert blob[0] == FORMAT_VERSION
    assert blob[1] == 0x02
    assert len(blob) == FIELD_MIN + len(SECRET)
    assert SECRET not in blob


def test_sealing_twice_gives_different_blobs(dek: DataKey) -> None:
    first, second = seal_field(dek, SECRET, NOTES), seal_field(dek, SECRET, NOTES)
    assert first != second
    assert first[10:42] != second[10:42]  # fresh salt, so a fresh field key


def _expected_error(offset: int) -> type[CryptoError]:
    if offset < 2:
        return UnsupportedFormat  # format version, kind
    if offset < 10:
        return Misplaced  # binding fingerprint
    if offset < 74:
        return WrongKey  # salt, commitment tag
    return Tampered  # nonce, ciphertext, GCM tag


def test_every_flipped_byte_of_a_field_raises_its_typed_error(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    for offset in range(len(blob)):
        with pytest.raises(_expected_error(offset)):
            open_field(dek, flip(blob, offset), NOTES)


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (0, UnsupportedFormat),
        (1, UnsupportedFormat),
        (2, Misplaced),
        (9, Misplaced),
        (10, WrongKey),
        (41, WrongKey),
        (42, WrongKey),
        (73, WrongKey),
        (74, Tampered),
        (85, Tampered),
        (86, Tampered),
        (-1, Tampered),
    ],
)
def test_each_field_region_boundary(dek: DataKey, offset: int, error: type[CryptoError]) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    with pytest.raises(error):
        open_field(dek, flip(blob, offset % len(blob)), NOTES)


def test_tampered_carries_the_binding(dek: DataKey) -> None:
    with pytest.raises(Tampered) as caught:
        open_field(dek, flip(seal_field(dek, SECRET, NOTES), 90), NOTES)
    assert (caught.value.record_type, caught.value.record_id, caught.value.field) == (
        "case",
        "HRD-7QX2",
        "notes",
    )


def test_swapped_between_records_is_misplaced(dek: DataKey) -> None:
    other_dek = new_data_key()
    mine = seal_field(dek, SECRET, NOTES)
    other_binding = Binding("case", "HRD-9ZZ1", "notes")
    theirs = seal_field(other_dek, b"other", other_binding)
    with pytest.raises(Misplaced) as caught:
        open_field(dek, theirs, NOTES)
    assert caught.value.expected == ("case", "HRD-7QX2", "notes")
    with pytest.raises(Misplaced):
        open_field(other_dek, mine, other_binding)


def test_swapped_between_fields_or_record_types_is_misplaced(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    for binding in (Binding("case", "HRD-7QX2", "contact"), Binding("draft", "HRD-7QX2", "notes")):
        with pytest.raises(Misplaced):
            open_field(dek, blob, binding)


def test_wrong_data_key_is_wrong_key(dek: DataKey) -> None:
    with pytest.raises(WrongKey):
        open_field(new_data_key(), seal_field(dek, SECRET, NOTES), NOTES)


def test_truncated_field_blobs(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    for size in range(len(blob)):
        expected = UnsupportedFormat if size < FIELD_MIN else Tampered
        with pytest.raises(expected):
            open_field(dek, blob[:size], NOTES)


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\x01",
        b"\x00" * 200,
        b"\x07" + bytes(200),
        b"\x01\x07" + bytes(200),
        b"\x01\x01" + bytes(200),
        b"not a ciphertext at all",
    ],
)
def test_garbage_field_blobs_are_unsupported(dek: DataKey, garbage: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        open_field(dek, garbage, NOTES)


def test_unknown_format_version_is_reported(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    with pytest.raises(UnsupportedFormat) as caught:
        open_field(dek, b"\x02" + blob[1:], NOTES)
    assert caught.value.format_version == 2
    assert caught.value.what == "field blob"


def test_random_blobs_only_raise_crypto_errors(dek: DataKey) -> None:
    for size in (0, 1, 2, 50, 101, 102, 103, 500):
        for _ in range(20):
            blob = os.urandom(size)
            with pytest.raises(CryptoError):
                open_field(dek, blob, NOTES)
            with pytest.raises(CryptoError):
                open_field(dek, b"\x01\x02" + blob, NOTES)


def test_a_wrapped_key_is_not_a_field(keyring: Keyring, dek: DataKey) -> None:
    wrapped = wrap_data_key(keyring, dek, "case", "HRD-7QX2")
    with pytest.raises(UnsupportedFormat, match="wrapped data key"):
        open_field(dek, wrapped + bytes(40), NOTES)


def test_bytearray_and_memoryview_are_accepted(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    assert open_field(dek, bytearray(blob), NOTES) == SECRET  # type: ignore[arg-type]
    assert open_field(dek, memoryview(blob), NOTES) == SECRET  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_field(dek, "text", NOTES)  # type: ignore[arg-type]


def test_data_keys_must_be_32_bytes() -> None:
    assert len(new_data_key()) == 32
    assert new_data_key() != new_data_key()
    with pytest.raises(ValueError, match="32 bytes"):
        seal_field(DataKey(b"short"), SECRET, NOTES)


def test_errors_leak_no_plaintext_or_key(dek: DataKey) -> None:
    blob = seal_field(dek, SECRET, NOTES)
    failures: list[CryptoError] = []
    for bad_dek, bad_blob, binding in (
        (dek, flip(blob, 90), NOTES),
        (new_data_key(), blob, NOTES),
        (dek, blob, Binding("case", "other", "notes")),
        (dek, blob[:50], NOTES),
    ):
        with pytest.raises(CryptoError) as caught:
            open_field(bad_dek, bad_blob, binding)
        failures.append(caught.value)
    for error in failures:
        text = str(error) + repr(error)
        assert "courthouse" not in text
        assert dek.hex() not in text
        assert repr(dek) not in text
