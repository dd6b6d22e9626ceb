"""Tests of crypto.passphrase_wrap: officers' private keys under their passphrases."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from crypto.errors import BadPassphrase, Misplaced, UnsupportedFormat
from crypto.hpke_keys import HPKE_ALGORITHMS, PrivateKey, generate_keypair
from crypto.keyring import KdfParams
from crypto.passphrase_wrap import rewrap_private_key, unwrap_private_key, wrap_private_key

PASSPHRASE = b"correct horse battery staple"
OWNER = "officer:42"


@pytest.fixture
def params() -> KdfParams:
    """Cheap Argon2id parameters, for tests only."""
    return KdfParams(memory_kib=1024, iterations=1, lanes=1)


@pytest.fixture(params=HPKE_ALGORITHMS)
def private(request: pytest.FixtureRequest) -> PrivateKey:
    return generate_keypair(str(request.param))[0]


@pytest.fixture
def blob(private: PrivateKey, params: KdfParams) -> bytes:
    return wrap_private_key(private, PASSPHRASE, OWNER, params)


def edit(blob: bytes, change: dict[str, Any], kdf: dict[str, Any] | None = None) -> bytes:
    document = json.loads(blob)
    document.update(change)
    document["kdf"].update(kdf or {})
    return json.dumps(document).encode()


def test_wrap_then_unwrap_round_trips(private: PrivateKey, blob: bytes) -> None:
    assert unwrap_private_key(blob, PASSPHRASE, OWNER) == private


def test_the_blob_is_self_describing_json(
    private: PrivateKey, blob: bytes, params: KdfParams
) -> None:
    document = json.loads(blob)
    assert document["format"] == "hrd-intake-wrapped-private-key"
    assert document["version"] == 1
    assert document["owner"] == OWNER
    assert document["kdf"]["name"] == "argon2id"
    assert (
        document["kdf"]["memory_kib"],
        document["kdf"]["iterations"],
        document["kdf"]["lanes"],
    ) == (params.memory_kib, params.iterations, params.lanes)
    assert private.raw.hex() not in blob.decode()
    assert blob.isascii()


def test_wrapping_twice_uses_a_fresh_salt_and_nonce(private: PrivateKey, params: KdfParams) -> None:
    first = json.loads(wrap_private_key(private, PASSPHRASE, OWNER, params))
    second = json.loads(wrap_private_key(private, PASSPHRASE, OWNER, params))
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["nonce"] != second["nonce"]


def test_wrong_passphrase_is_bad_passphrase(blob: bytes) -> None:
    with pytest.raises(BadPassphrase) as caught:
        unwrap_private_key(blob, b"correct horse battery stapler", OWNER)
    assert caught.value.owner == OWNER
    assert caught.value.path is None
    assert "officer:42" in str(caught.value)
    with pytest.raises(BadPassphrase):
        unwrap_private_key(blob, b"", OWNER)


def test_another_owner_is_misplaced(blob: bytes) -> None:
    # The row of officer 42 presented as officer 7's.
    with pytest.raises(Misplaced) as caught:
        unwrap_private_key(blob, PASSPHRASE, "officer:7")
    assert caught.value.expected == ("wrapped private key", "officer:7", "private key")


def test_an_edited_owner_fails_to_open(blob: bytes) -> None:
    # The stored owner rewritten to match: the associated data still names officer 42.
    with pytest.raises(BadPassphrase) as caught:
        unwrap_private_key(edit(blob, {"owner": "officer:7"}), PASSPHRASE, "officer:7")
    assert caught.value.owner == "officer:7"


@pytest.mark.parametrize(
    "kdf_change",
    [{"memory_kib": 2048}, {"iterations": 2}, {"lanes": 2}, {"memory_kib": 512}],
)
def test_edited_kdf_parameters_fail_to_open(blob: bytes, kdf_change: dict[str, Any]) -> None:
    with pytest.raises(BadPassphrase):
        unwrap_private_key(edit(blob, {}, kdf_change), PASSPHRASE, OWNER)


def test_an_edited_salt_nonce_or_ciphertext_fails_to_open(blob: bytes) -> None:
    document = json.loads(blob)
    for place, entry in (("kdf", "salt"), (None, "nonce"), (None, "ciphertext")):
        target = document[place] if place else document
        original = target[entry]
        target[entry] = ("B" if original[0] == "A" else "A") + original[1:]
        with pytest.raises(BadPassphrase):
            unwrap_private_key(json.dumps(document).encode(), PASSPHRASE, OWNER)
        target[entry] = original


@pytest.mark.parametrize(
    "kdf_change",
    [
        {"memory_kib": 8 * 1024 * 1024},
        {"memory_kib": 4},
        {"iterations": 0},
        {"iterations": 10_000},
        {"lanes": 0},
        {"lanes": 1000},
        {"lanes": True},
        {"memory_kib": "1024"},
        {"iterations": 1.0},
    ],
)
def test_out_of_bounds_parameters_are_refused_before_deriving(
    blob: bytes, kdf_change: dict[str, Any]
) -> None:
    start = time.perf_counter()
    with pytest.raises(UnsupportedFormat, match="KDF parameters refused"):
        unwrap_private_key(edit(blob, {}, kdf_change), PASSPHRASE, OWNER)
    assert time.perf_counter() - start < 0.5


def test_wrapping_with_out_of_bounds_parameters_is_impossible() -> None:
    with pytest.raises(ValueError):
        KdfParams(memory_kib=8 * 1024 * 1024 + 1, iterations=3, lanes=4)


@pytest.mark.parametrize(
    ("change", "kdf_change", "reason"),
    [
        ({"format": "hrd-intake-keyring"}, {}, "not an hrd-intake wrapped private key"),
        ({"version": "1"}, {}, "no format version"),
        ({"extra": 1}, {}, "unexpected or missing entries"),
        ({"owner": 42}, {}, "bad owner"),
        ({"owner": ""}, {}, "bad owner"),
        ({"nonce": "not base64!"}, {}, "nonce is not base64"),
        ({"nonce": "AAAA"}, {}, "wrong size"),
        ({"ciphertext": None}, {}, "ciphertext is not base64"),
        ({"kdf": {"name": "argon2id"}}, {}, "bad kdf entry"),
        ({}, {"name": "pbkdf2"}, "unsupported KDF"),
        ({}, {"salt": "ü"}, "salt is not base64"),
    ],
)
def test_malformed_blobs_are_unsupported(
    blob: bytes, change: dict[str, Any], kdf_change: dict[str, Any], reason: str
) -> None:
    document = json.loads(blob)
    document.update(change)
    if isinstance(document["kdf"], dict) and "salt" in document["kdf"]:
        document["kdf"].update(kdf_change)
    with pytest.raises(UnsupportedFormat, match=reason) as caught:
        unwrap_private_key(json.dumps(document).encode(), PASSPHRASE, OWNER)
    assert caught.value.what == "wrapped private key"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{", b"[]", b"null", b"\xff\xfe", b"[" * 50_000, b" " * (64 * 1024 + 1)],
)
def test_garbage_is_unsupported(garbage: bytes) -> None:
    with pytest.raises(UnsupportedFormat):
        unwrap_private_key(garbage, PASSPHRASE, OWNER)


def test_an_unknown_version_is_reported(blob: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        unwrap_private_key(edit(blob, {"version": 2}), PASSPHRASE, OWNER)
    assert caught.value.format_version == 2


def test_rewrap_changes_the_passphrase(private: PrivateKey, blob: bytes, params: KdfParams) -> None:
    new = b"a much longer passphrase, changed after an incident"
    rewrapped = rewrap_private_key(blob, PASSPHRASE, new, OWNER, params)
    assert unwrap_private_key(rewrapped, new, OWNER) == private
    with pytest.raises(BadPassphrase):
        unwrap_private_key(rewrapped, PASSPHRASE, OWNER)
    with pytest.raises(BadPassphrase):
        rewrap_private_key(blob, b"wrong", new, OWNER, params)


def test_empty_or_non_bytes_passphrases_are_refused(
    private: PrivateKey, blob: bytes, params: KdfParams
) -> None:
    with pytest.raises(ValueError):
        wrap_private_key(private, b"", OWNER, params)
    with pytest.raises(ValueError):
        rewrap_private_key(blob, PASSPHRASE, b"", OWNER, params)
    with pytest.raises(ValueError):
        wrap_private_key(private, PASSPHRASE, "", params)
    with pytest.raises(TypeError):
        wrap_private_key(private, "text", OWNER, params)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        unwrap_private_key(blob, "text", OWNER)  # type: ignore[arg-type]


def test_keyring_bad_passphrase_is_unchanged(tmp_path: Any) -> None:
    error = BadPassphrase(tmp_path)
    assert error.path == tmp_path
    assert error.owner is None
    assert "wrong passphrase, or the file was modified" in str(error)


def test_default_parameters_cost(capsys: pytest.CaptureFixture[str]) -> None:
    """The production cost: Argon2id 64 MiB, 3 passes, 4 lanes (about 150-200 ms here)."""
    private, _ = generate_keypair()
    blob = wrap_private_key(private, PASSPHRASE, OWNER)
    kdf = json.loads(blob)["kdf"]
    assert (kdf["memory_kib"], kdf["iterations"], kdf["lanes"]) == (65536, 3, 4)
    start = time.perf_counter()
    assert unwrap_private_key(blob, PASSPHRASE, OWNER) == private
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nunwrap_private_key with the default KdfParams: {elapsed * 1000:.0f} ms")
