"""Tests of crypto.sealing: HPKE sealing of data keys and private keys to public keys."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from crypto.envelope import FORMAT_VERSION
from crypto.errors import CryptoError, Misplaced, Tampered, UnsupportedFormat, WrongKey
from crypto.hpke_keys import HPKE_ALGORITHMS, PrivateKey, PublicKey, generate_keypair
from crypto.sealing import SealContext, open_sealed, seal

DATA_KEY = bytes(range(32))
CASE = SealContext("case-key", "HRD-7QX2", "mission:eu-del-ke", 1)
HEADER = 19
ENC_SIZE = {"x25519": 32, "mlkem768-x25519": 1120}


@pytest.fixture(params=HPKE_ALGORITHMS)
def keypair(request: pytest.FixtureRequest) -> tuple[PrivateKey, PublicKey]:
    return generate_keypair(str(request.param))


def flip(blob: bytes, offset: int) -> bytes:
    return blob[:offset] + bytes([blob[offset] ^ 0x01]) + blob[offset + 1 :]


# The context


def test_info_is_canonical_and_unambiguous() -> None:
    assert CASE.info() == SealContext("case-key", "HRD-7QX2", "mission:eu-del-ke", 1).info()
    assert SealContext("a", "bc", "r", 1).info() != SealContext("ab", "c", "r", 1).info()
    assert SealContext("a", "b", "r", 12).info() != SealContext("a", "b", "r1", 2).info()
    assert b"hrd-intake/seal" in CASE.info()
    assert len(CASE.fingerprint()) == 8


@pytest.mark.parametrize(
    ("purpose", "subject", "recipient", "version"),
    [
        ("", "HRD-1", "mission:x", 1),
        ("case-key", "", "mission:x", 1),
        ("case-key", "HRD-1", "", 1),
        ("case-key", "HRD-\ud800", "mission:x", 1),
        ("case-key", "HRD-1", "mission:x", 0),
        ("case-key", "HRD-1", "mission:x", 2**32),
        ("case-key", "HRD-1", "mission:x", True),
        ("case-key", "HRD-1", "mission:x", "1"),
    ],
)
def test_invalid_contexts_are_refused(
    purpose: str, subject: str, recipient: str, version: int
) -> None:
    with pytest.raises(ValueError):
        SealContext(purpose, subject, recipient, version)


# Sealing and opening


def test_seal_then_open_round_trips(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    assert open_sealed(private, blob, CASE) == DATA_KEY
    assert open_sealed(private, bytearray(blob), CASE) == DATA_KEY  # type: ignore[arg-type]


def test_a_private_key_seals_to_another_key() -> None:
    # A mission's private key sealed to an officer (and later to the recovery key).
    mission_private, _ = generate_keypair()
    officer_private, officer_public = generate_keypair()
    context = SealContext("mission-key", "eu-del-ke/v3", "officer:42", 1)
    blob = seal(officer_public, mission_private.to_bytes(), context)
    opened = PrivateKey.from_bytes(open_sealed(officer_private, blob, context))
    assert opened == mission_private


def test_blob_layout(keypair: tuple[PrivateKey, PublicKey]) -> None:
    _, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    algorithm_id = {"x25519": 1, "mlkem768-x25519": 2}[public.algorithm]
    assert blob[:3] == bytes([FORMAT_VERSION, 0x03, algorithm_id])
    assert blob[3:11] == CASE.fingerprint()
    assert blob[11:19] == bytes.fromhex(public.key_id)
    assert len(blob) == HEADER + ENC_SIZE[public.algorithm] + len(DATA_KEY) + 16
    assert DATA_KEY not in blob


def test_sealing_twice_gives_different_blobs(keypair: tuple[PrivateKey, PublicKey]) -> None:
    _, public = keypair
    assert seal(public, DATA_KEY, CASE) != seal(public, DATA_KEY, CASE)


def test_moved_to_another_case_is_misplaced(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    other_case = SealContext("case-key", "HRD-9ZZ9", "mission:eu-del-ke", 1)
    with pytest.raises(Misplaced) as caught:
        open_sealed(private, blob, other_case)
    assert caught.value.expected == ("seal", "HRD-9ZZ9", "case-key")


@pytest.mark.parametrize(
    "other",
    [
        SealContext("case-key", "HRD-7QX2", "mission:eu-del-ug", 1),
        SealContext("case-key", "HRD-7QX2", "recovery:0011223344556677", 1),
        SealContext("case-key", "HRD-7QX2", "mission:eu-del-ke", 2),
        SealContext("mission-key", "HRD-7QX2", "mission:eu-del-ke", 1),
    ],
)
def test_another_recipient_version_or_purpose_is_misplaced(
    keypair: tuple[PrivateKey, PublicKey], other: SealContext
) -> None:
    private, public = keypair
    with pytest.raises(Misplaced):
        open_sealed(private, seal(public, DATA_KEY, CASE), other)


def test_a_forged_fingerprint_still_fails_to_open(keypair: tuple[PrivateKey, PublicKey]) -> None:
    # The header is only a hint: rewriting it for another case does not get past HPKE.
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    other_case = SealContext("case-key", "HRD-9ZZ9", "mission:eu-del-ke", 1)
    forged = blob[:3] + other_case.fingerprint() + blob[11:]
    with pytest.raises(Tampered):
        open_sealed(private, forged, other_case)


def test_wrong_private_key_is_wrong_key(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    stranger, _ = generate_keypair(private.algorithm)
    with pytest.raises(WrongKey):
        open_sealed(stranger, seal(public, DATA_KEY, CASE), CASE)


def test_a_forged_key_id_still_fails_to_open(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    stranger, stranger_public = generate_keypair(private.algorithm)
    blob = seal(public, DATA_KEY, CASE)
    forged = blob[:11] + bytes.fromhex(stranger_public.key_id) + blob[19:]
    with pytest.raises(Tampered):
        open_sealed(stranger, forged, CASE)


def test_private_key_of_another_algorithm_is_unsupported() -> None:
    if len(HPKE_ALGORITHMS) < 2:
        pytest.skip("only one algorithm here")
    _, public = generate_keypair("mlkem768-x25519")
    x_private, _ = generate_keypair("x25519")
    with pytest.raises(UnsupportedFormat, match="sealed with mlkem768-x25519"):
        open_sealed(x_private, seal(public, DATA_KEY, CASE), CASE)


def test_every_flipped_byte_raises_its_typed_error(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    expected: list[tuple[range, type[CryptoError]]] = [
        (range(3), UnsupportedFormat),
        (range(3, 11), Misplaced),
        (range(11, 19), WrongKey),
        (range(19, len(blob)), Tampered),
    ]
    for offsets, error in expected:
        for offset in offsets:
            with pytest.raises(error):
                open_sealed(private, flip(blob, offset), CASE)


def test_tampered_carries_the_context(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    with pytest.raises(Tampered) as caught:
        open_sealed(private, flip(blob, len(blob) - 1), CASE)
    assert (caught.value.record_type, caught.value.record_id, caught.value.field) == (
        "seal",
        "HRD-7QX2",
        "case-key",
    )


def test_truncated_blobs_are_unsupported(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, b"k", CASE)  # the smallest blob
    for size in range(len(blob)):
        with pytest.raises(UnsupportedFormat):
            open_sealed(private, blob[:size], CASE)
    assert open_sealed(private, blob, CASE) == b"k"


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"", "empty"),
        (b"\x09" + bytes(80), "unsupported format version 9"),
        (b"\x01\x02\x01" + bytes(80), "not a sealed secret"),
        (b"\x01\x03\x07" + bytes(80), "unknown HPKE algorithm id 7"),
        (b"\x01\x03", "not a sealed secret"),
    ],
)
def test_garbage_is_unsupported(
    keypair: tuple[PrivateKey, PublicKey], garbage: bytes, reason: str
) -> None:
    private, _ = keypair
    with pytest.raises(UnsupportedFormat, match=reason) as caught:
        open_sealed(private, garbage, CASE)
    assert caught.value.what == "sealed secret"


def test_random_blobs_never_open_and_fail_where_they_should(
    keypair: tuple[PrivateKey, PublicKey],
) -> None:
    private, public = keypair
    header = seal(public, DATA_KEY, CASE)[:HEADER]
    min_size = HEADER + ENC_SIZE[private.algorithm] + 1 + 16
    for size in (0, 1, 3, 19, 67, 68, 100, 1156, 1200):
        for _ in range(10):
            # Random bytes: refused by their header, unless they happen to start like a seal.
            blob = os.urandom(size)
            with pytest.raises(CryptoError) as caught:
                open_sealed(private, blob, CASE)
            if not isinstance(caught.value, UnsupportedFormat):
                assert blob[:2] == bytes([FORMAT_VERSION, 0x03])
            # A right header (this context, this key) over random bytes: too short, or
            # it reaches HPKE decryption and fails there.
            blob = header + os.urandom(size)
            expected = UnsupportedFormat if len(blob) < min_size else Tampered
            with pytest.raises(expected) as refused:
                open_sealed(private, blob, CASE)
            if expected is UnsupportedFormat:
                assert f"expected at least {min_size}" in str(refused.value.reason)


def test_empty_or_non_bytes_secrets_are_refused(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    with pytest.raises(ValueError):
        seal(public, b"", CASE)
    with pytest.raises(TypeError):
        seal(public, "secret", CASE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_sealed(private, "blob", CASE)  # type: ignore[arg-type]


def test_errors_leak_no_secret(keypair: tuple[PrivateKey, PublicKey]) -> None:
    private, public = keypair
    blob = seal(public, DATA_KEY, CASE)
    stranger, _ = generate_keypair(private.algorithm)
    attempts: list[Callable[[], bytes]] = [
        lambda: open_sealed(private, flip(blob, 40), CASE),
        lambda: open_sealed(stranger, blob, CASE),
        lambda: open_sealed(private, blob[:30], CASE),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as caught:
            attempt()
        message = str(caught.value)
        assert DATA_KEY.hex() not in message
        assert private.raw.hex() not in message
