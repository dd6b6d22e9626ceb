"""Tests of crypto.hpke_keys: generation, serialization, key ids, hidden private bytes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from crypto.envelope import FORMAT_VERSION
from crypto.errors import UnsupportedFormat
from crypto.hpke_keys import (
    DEFAULT_ALGORITHM,
    HPKE_ALGORITHMS,
    PrivateKey,
    PublicKey,
    generate_keypair,
)

HYBRID = "mlkem768-x25519"
# (serialized public size, serialized private size), header of 3 bytes included.
SIZES = {"x25519": (35, 35), HYBRID: (3 + 1184 + 32, 3 + 64 + 32)}
ALGORITHM_IDS = {"x25519": 0x01, HYBRID: 0x02}


@pytest.fixture(params=HPKE_ALGORITHMS)
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_hybrid_is_the_default_where_supported() -> None:
    assert "x25519" in HPKE_ALGORITHMS
    expected = HYBRID if HYBRID in HPKE_ALGORITHMS else "x25519"
    assert expected == DEFAULT_ALGORITHM


def test_the_installed_cryptography_offers_the_hybrid() -> None:
    # cryptography 50 with its bundled OpenSSL supports ML-KEM: the hybrid must be used here.
    assert DEFAULT_ALGORITHM == HYBRID
    private, public = generate_keypair()
    assert (private.algorithm, public.algorithm) == (HYBRID, HYBRID)


def test_generated_keys_match_and_have_the_documented_sizes(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    assert private.public_key() == public
    public_size, private_size = SIZES[algorithm]
    assert len(public.to_bytes()) == public_size
    assert len(private.to_bytes()) == private_size
    assert public.to_bytes()[:3] == bytes([FORMAT_VERSION, 0x04, ALGORITHM_IDS[algorithm]])
    assert private.to_bytes()[:3] == bytes([FORMAT_VERSION, 0x05, ALGORITHM_IDS[algorithm]])


def test_serialization_round_trips(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    assert PublicKey.from_bytes(public.to_bytes()) == public
    loaded = PrivateKey.from_bytes(private.to_bytes())
    assert loaded == private
    assert loaded.public_key() == public
    assert PublicKey.from_bytes(bytearray(public.to_bytes())) == public  # type: ignore[arg-type]
    assert PrivateKey.from_bytes(memoryview(private.to_bytes())) == private  # type: ignore[arg-type]


def test_key_id_is_stable_and_distinct(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    _, other = generate_keypair(algorithm)
    assert len(public.key_id) == 16
    assert int(public.key_id, 16) >= 0
    assert public.key_id == public.key_id
    assert PublicKey.from_bytes(public.to_bytes()).key_id == public.key_id
    assert private.public_key().key_id == public.key_id
    assert other.key_id != public.key_id


def test_key_id_depends_on_the_algorithm() -> None:
    # Same X25519 half, different algorithm: different serialization, different id.
    if HYBRID not in HPKE_ALGORITHMS:
        pytest.skip("no hybrid here")
    hybrid, _ = generate_keypair(HYBRID)
    x_only = PrivateKey("x25519", hybrid.raw[64:])
    assert x_only.public_key().key_id != hybrid.public_key().key_id


def test_reprs_hide_private_bytes(algorithm: str) -> None:
    private, _ = generate_keypair(algorithm)
    for shown in (repr(private), str(private), repr((private,))):
        assert private.raw.hex() not in shown
        assert repr(private.raw) not in shown
        assert repr(private.raw[:8])[2:-1] not in shown
    assert repr(private) == f"PrivateKey(algorithm={algorithm!r})"


def test_a_private_key_is_never_read_as_a_public_key(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    with pytest.raises(UnsupportedFormat, match="not a public key"):
        PublicKey.from_bytes(private.to_bytes())
    with pytest.raises(UnsupportedFormat, match="not a private key"):
        PrivateKey.from_bytes(public.to_bytes())


def test_every_truncation_is_unsupported(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    for serialized, parse in (
        (public.to_bytes(), PublicKey.from_bytes),
        (private.to_bytes(), PrivateKey.from_bytes),
    ):
        for size in range(len(serialized)):
            with pytest.raises(UnsupportedFormat):
                parse(serialized[:size])
        with pytest.raises(UnsupportedFormat, match="malformed"):
            parse(serialized + b"\x00")


@pytest.mark.parametrize(
    ("serialized", "reason"),
    [
        (b"", "empty"),
        (b"\x07\x04\x01" + bytes(32), "unsupported format version 7"),
        (b"\x01\x04\x09" + bytes(32), "unknown HPKE algorithm id 9"),
        (b"\x01\x02\x01" + bytes(32), "not a public key"),
        (b"\x01\x04", "truncated"),
    ],
)
def test_bad_public_keys_are_unsupported(serialized: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFormat, match=reason) as caught:
        PublicKey.from_bytes(serialized)
    assert caught.value.what == "public key"


def test_invalid_public_key_values_are_refused() -> None:
    # All-zero X25519 is a low-order point: every sender would derive a public secret.
    with pytest.raises(UnsupportedFormat, match="invalid key"):
        PublicKey.from_bytes(b"\x01\x04\x01" + bytes(32))
    with pytest.raises(ValueError):
        PublicKey("x25519", bytes(32))
    if HYBRID in HPKE_ALGORITHMS:
        _, public = generate_keypair(HYBRID)
        with pytest.raises(ValueError):  # ML-KEM coefficients out of range
            PublicKey(HYBRID, b"\xff" * 1184 + public.raw[1184:])


def random_serializations() -> Iterator[bytes]:
    """Random bytes of many sizes, bare or behind a right, wrong or truncated header."""
    headers = [
        bytes([version, kind, ident])
        for version in (FORMAT_VERSION, 2)
        for kind in (0x04, 0x05)
        for ident in (*ALGORITHM_IDS.values(), 0x09)
    ]
    for size in (0, 1, 2, 3, 34, 35, 36, 99, 1219):
        for _ in range(3):
            yield os.urandom(size)
            for header in headers:
                for cut in (1, 2, 3):
                    yield header[:cut] + os.urandom(max(0, size - cut))


def laid_out_as(data: bytes, kind: int, index: int) -> str | None:
    """The algorithm whose serialized key of this kind `data` is laid out as, if any."""
    for name, ident in ALGORITHM_IDS.items():
        if name not in HPKE_ALGORITHMS or len(data) != SIZES[name][index]:
            continue
        if data[:3] == bytes([FORMAT_VERSION, kind, ident]):
            return name
    return None


@pytest.mark.parametrize(
    ("parse", "kind", "index", "what"),
    [
        (PublicKey.from_bytes, 0x04, 0, "public key"),
        (PrivateKey.from_bytes, 0x05, 1, "private key"),
    ],
)
def test_random_bytes_parse_only_when_laid_out_right_and_then_round_trip(
    parse: Callable[[bytes], PublicKey | PrivateKey], kind: int, index: int, what: str
) -> None:
    parsed = 0
    for data in random_serializations():
        algorithm = laid_out_as(data, kind, index)
        try:
            key = parse(data)
        except UnsupportedFormat as exc:
            assert exc.what == what
            # Any bytes of the right size make a private key (an ML-KEM seed and an
            # X25519 scalar); a public key may fail its validity checks.
            assert algorithm is None or what == "public key", data[:3]
            continue
        assert algorithm is not None, f"a {what} parsed from {data[:3]!r}, {len(data)} bytes"
        assert (key.algorithm, key.to_bytes()) == (algorithm, data)
        parsed += 1
    assert parsed  # the right layouts were among the tries, not only garbage


@pytest.mark.parametrize("algorithm_name", ["rsa", "", "X25519", "mlkem1024-p384"])
def test_unknown_algorithms_are_refused(algorithm_name: str) -> None:
    with pytest.raises(ValueError, match="unknown HPKE algorithm"):
        generate_keypair(algorithm_name)
    with pytest.raises(ValueError):
        PrivateKey(algorithm_name, bytes(32))


def test_wrong_raw_sizes_are_refused(algorithm: str) -> None:
    private, public = generate_keypair(algorithm)
    with pytest.raises(ValueError):
        PrivateKey(algorithm, private.raw[:-1])
    with pytest.raises(ValueError):
        PublicKey(algorithm, public.raw + b"\x00")


def test_non_bytes_are_a_type_error() -> None:
    with pytest.raises(TypeError):
        PublicKey.from_bytes("0104" + "00" * 32)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PrivateKey.from_bytes(None)  # type: ignore[arg-type]
