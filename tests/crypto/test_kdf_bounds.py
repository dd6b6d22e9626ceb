"""Argon2id costs are bounded before any derivation: 1 GiB, 10 passes, 8 lanes; a 64 MiB floor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import crypto._kdf
import crypto.passphrase_wrap
from crypto import (
    PRODUCTION_MEMORY_FLOOR_KIB,
    KdfParams,
    KeyringFileError,
    UnsupportedFormat,
    check_kdf_params,
    create_keyring_file,
    generate_keypair,
    load_keyring,
    wrap_private_key,
    wrapped_key_params,
)
from crypto.keyring import MAX_ITERATIONS, MAX_LANES, MAX_MEMORY_KIB

CHEAP = KdfParams(memory_kib=1024, iterations=1, lanes=1)


def test_the_bounds_are_the_documented_ones() -> None:
    assert (MAX_MEMORY_KIB, MAX_ITERATIONS, MAX_LANES) == (1024 * 1024, 10, 8)
    assert KdfParams(memory_kib=MAX_MEMORY_KIB, iterations=10, lanes=8)  # the limits themselves
    for too_much in (
        {"memory_kib": MAX_MEMORY_KIB + 1},
        {"iterations": 11},
        {"lanes": 9},
    ):
        with pytest.raises(ValueError):
            KdfParams(**{"memory_kib": 65536, "iterations": 3, "lanes": 4, **too_much})


def test_the_production_floor() -> None:
    assert PRODUCTION_MEMORY_FLOOR_KIB == 64 * 1024
    assert KdfParams().meets_production_floor
    assert not CHEAP.meets_production_floor
    check_kdf_params(KdfParams(), floor_kib=PRODUCTION_MEMORY_FLOOR_KIB)
    with pytest.raises(ValueError, match="below the floor"):
        check_kdf_params(CHEAP, floor_kib=PRODUCTION_MEMORY_FLOOR_KIB)


def _no_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("Argon2id was called with parameters that should have been refused")

    monkeypatch.setattr(crypto._kdf, "Argon2id", refuse)


@pytest.mark.parametrize(
    "change",
    [{"memory_kib": 4 * 1024 * 1024}, {"iterations": 100}, {"lanes": 64}],
    ids=["4GiB", "100-passes", "64-lanes"],
)
def test_an_edited_officer_row_is_refused_before_deriving(
    change: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = generate_keypair()
    document = json.loads(wrap_private_key(private, b"a long passphrase", "officer:x", CHEAP))
    document["kdf"].update(change)
    edited = json.dumps(document).encode()
    _no_derivation(monkeypatch)
    with pytest.raises(UnsupportedFormat, match="KDF parameters refused"):
        crypto.passphrase_wrap.unwrap_private_key(edited, b"a long passphrase", "officer:x")
    with pytest.raises(UnsupportedFormat):
        wrapped_key_params(edited)


@pytest.mark.parametrize(
    "change",
    [{"memory_kib": 4 * 1024 * 1024}, {"iterations": 100}, {"lanes": 64}],
    ids=["4GiB", "100-passes", "64-lanes"],
)
def test_an_edited_keyring_header_is_refused_before_deriving(
    tmp_path: Path, change: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keyring.json"
    create_keyring_file(path, b"keyring passphrase", datetime.now(UTC), CHEAP)
    document = json.loads(path.read_text())
    document["kdf"].update(change)
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    _no_derivation(monkeypatch)
    with pytest.raises(KeyringFileError, match="KDF parameters refused"):
        load_keyring(path, b"keyring passphrase")


def test_a_params_object_built_around_its_checks_is_still_refused() -> None:
    forged = KdfParams.__new__(KdfParams)
    object.__setattr__(forged, "memory_kib", 4 * 1024 * 1024)
    object.__setattr__(forged, "iterations", 3)
    object.__setattr__(forged, "lanes", 4)
    private, _ = generate_keypair()
    with pytest.raises(ValueError):
        wrap_private_key(private, b"a long passphrase", "officer:x", forged)


def test_wrapped_key_params_reads_the_header() -> None:
    private, _ = generate_keypair()
    blob = wrap_private_key(private, b"a long passphrase", "officer:x", CHEAP)
    assert wrapped_key_params(blob) == CHEAP
