"""Tests of crypto.keyring's file: passphrase, permissions, atomic writes, tampering."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crypto.errors import BadPassphrase, CryptoError, KeyringFileError, UnsupportedFormat
from crypto.keyring import (
    KdfParams,
    Keyring,
    KeyVersion,
    create_keyring_file,
    load_keyring,
    save_keyring,
)

PASSPHRASE = b"correct horse battery staple"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def params() -> KdfParams:
    """Cheap Argon2id parameters, for tests only."""
    return KdfParams(memory_kib=1024, iterations=1, lanes=1)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate(NOW)


@pytest.fixture
def keyring_file(tmp_path: Path, params: KdfParams) -> Path:
    path = tmp_path / "keyring.json"
    create_keyring_file(path, PASSPHRASE, NOW, params)
    return path


def edit_file(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the keyring file's JSON after change, keeping mode 0600."""
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    path.chmod(0o600)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_then_load_round_trips(tmp_path: Path, params: KdfParams) -> None:
    path = tmp_path / "keyring.json"
    created = create_keyring_file(path, PASSPHRASE, NOW, params)
    assert load_keyring(path, PASSPHRASE) == created


def test_save_then_load_round_trips_rotated_and_retired(
    keyring_file: Path, params: KdfParams
) -> None:
    ring = load_keyring(keyring_file, PASSPHRASE).rotate("kek", NOW).rotate("pseudonym", NOW)
    ring = ring.retire("kek", KeyVersion(1), NOW + timedelta(hours=1))
    save_keyring(keyring_file, ring, PASSPHRASE, params)
    loaded = load_keyring(keyring_file, PASSPHRASE)
    assert loaded == ring
    assert loaded.versions("kek")[0].material == b""


def test_file_is_0600_after_create_and_save(keyring_file: Path, params: KdfParams) -> None:
    assert mode_of(keyring_file) == 0o600
    ring = load_keyring(keyring_file, PASSPHRASE)
    save_keyring(keyring_file, ring.rotate("kek", NOW), PASSPHRASE, params)
    assert mode_of(keyring_file) == 0o600


def test_no_temporary_files_are_left(keyring_file: Path, params: KdfParams) -> None:
    save_keyring(keyring_file, load_keyring(keyring_file, PASSPHRASE), PASSPHRASE, params)
    assert [p.name for p in keyring_file.parent.iterdir()] == [keyring_file.name]


def test_file_holds_no_material_in_clear(keyring_file: Path) -> None:
    ring = load_keyring(keyring_file, PASSPHRASE)
    text = keyring_file.read_text()
    for kind in ("kek", "pseudonym"):
        material = ring.material(kind, KeyVersion(1))
        assert base64.b64encode(material).decode() not in text
        assert material.hex() not in text
    assert PASSPHRASE.decode() not in text


def test_file_header_is_as_documented(keyring_file: Path, params: KdfParams) -> None:
    document = json.loads(keyring_file.read_text())
    assert set(document) == {"format", "version", "kdf", "nonce", "ciphertext"}
    assert document["format"] == "hrd-intake-keyring"
    assert document["version"] == 1
    kdf = document["kdf"]
    assert kdf["name"] == "argon2id"
    assert len(base64.b64decode(kdf["salt"])) == 16
    assert (kdf["memory_kib"], kdf["iterations"], kdf["lanes"]) == (
        params.memory_kib,
        params.iterations,
        params.lanes,
    )
    assert len(base64.b64decode(document["nonce"])) == 12


def test_salt_and_nonce_are_fresh_on_every_save(keyring_file: Path, params: KdfParams) -> None:
    ring = load_keyring(keyring_file, PASSPHRASE)
    first = json.loads(keyring_file.read_text())
    save_keyring(keyring_file, ring, PASSPHRASE, params)
    second = json.loads(keyring_file.read_text())
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["nonce"] != second["nonce"]


def test_create_refuses_an_existing_file(keyring_file: Path, params: KdfParams) -> None:
    before = keyring_file.read_bytes()
    with pytest.raises(KeyringFileError) as caught:
        create_keyring_file(keyring_file, PASSPHRASE, NOW, params)
    assert caught.value.path == keyring_file
    assert caught.value.reason == "already exists"
    assert keyring_file.read_bytes() == before


def test_create_in_a_missing_directory_fails(tmp_path: Path, params: KdfParams) -> None:
    with pytest.raises(KeyringFileError, match="does not exist"):
        create_keyring_file(tmp_path / "nowhere" / "keyring.json", PASSPHRASE, NOW, params)


def test_empty_passphrase_is_refused(tmp_path: Path, params: KdfParams) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        create_keyring_file(tmp_path / "keyring.json", b"", NOW, params)
    assert not (tmp_path / "keyring.json").exists()


def test_wrong_passphrase_raises_bad_passphrase(keyring_file: Path) -> None:
    with pytest.raises(BadPassphrase) as caught:
        load_keyring(keyring_file, b"wrong horse battery staple")
    assert caught.value.path == keyring_file
    assert "horse" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringFileError) as caught:
        load_keyring(tmp_path / "absent.json", PASSPHRASE)
    assert caught.value.reason == "missing"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610])
def test_group_or_other_permissions_are_refused(keyring_file: Path, mode: int) -> None:
    keyring_file.chmod(mode)
    with pytest.raises(KeyringFileError) as caught:
        load_keyring(keyring_file, PASSPHRASE)
    assert "permissions too open" in caught.value.reason


def test_owner_read_only_is_accepted(keyring_file: Path) -> None:
    keyring_file.chmod(0o400)
    load_keyring(keyring_file, PASSPHRASE)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keyring.json"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyringFileError, match="not a regular file"):
        load_keyring(directory, PASSPHRASE)


def _reencode(value: str, change: Callable[[bytes], bytes]) -> str:
    return base64.b64encode(change(base64.b64decode(value))).decode()


def _flip_first(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d["kdf"].update(memory_kib=512), id="weaker-memory"),
        pytest.param(lambda d: d["kdf"].update(memory_kib=2048), id="stronger-memory"),
        pytest.param(lambda d: d["kdf"].update(iterations=2), id="iterations"),
        pytest.param(lambda d: d["kdf"].update(lanes=2), id="lanes"),
        pytest.param(
            lambda d: d["kdf"].update(salt=_reencode(d["kdf"]["salt"], _flip_first)), id="salt"
        ),
        pytest.param(lambda d: d.update(nonce=_reencode(d["nonce"], _flip_first)), id="nonce"),
        pytest.param(
            lambda d: d.update(ciphertext=_reencode(d["ciphertext"], _flip_first)),
            id="ciphertext",
        ),
        pytest.param(
            lambda d: d.update(ciphertext=_reencode(d["ciphertext"], lambda b: b[:-1])),
            id="truncated-tag",
        ),
    ],
)
def test_edited_file_does_not_open(keyring_file: Path, edit: Callable[[Any], None]) -> None:
    edit_file(keyring_file, edit)
    with pytest.raises(BadPassphrase):
        load_keyring(keyring_file, PASSPHRASE)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        pytest.param(lambda d: d["kdf"].update(memory_kib=2**40), "KDF parameters", id="memory"),
        pytest.param(lambda d: d["kdf"].update(iterations=10**9), "KDF parameters", id="passes"),
        pytest.param(lambda d: d["kdf"].update(lanes=0), "KDF parameters", id="lanes"),
        pytest.param(lambda d: d["kdf"].update(lanes=True), "KDF parameters", id="bool"),
        pytest.param(lambda d: d["kdf"].update(name="pbkdf2"), "unsupported KDF", id="kdf"),
        pytest.param(lambda d: d["kdf"].update(salt="!!"), "salt", id="salt-b64"),
        pytest.param(lambda d: d.update(nonce="AAAA"), "wrong size", id="nonce-size"),
        pytest.param(lambda d: d.update(format="other"), "not an hrd-intake", id="format"),
        pytest.param(lambda d: d.update(extra=1), "unexpected", id="extra-entry"),
        pytest.param(lambda d: d.pop("ciphertext"), "missing", id="no-ciphertext"),
    ],
)
def test_malformed_header_is_refused_before_key_derivation(
    keyring_file: Path, edit: Callable[[Any], None], reason: str
) -> None:
    edit_file(keyring_file, edit)
    with pytest.raises(KeyringFileError, match=reason):
        load_keyring(keyring_file, PASSPHRASE)


def test_unknown_file_version_is_unsupported(keyring_file: Path) -> None:
    edit_file(keyring_file, lambda d: d.update(version=2))
    with pytest.raises(UnsupportedFormat) as caught:
        load_keyring(keyring_file, PASSPHRASE)
    assert caught.value.format_version == 2


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b"\xff\xfe", b'{"format": 1}'])
def test_garbage_file_is_malformed(keyring_file: Path, content: bytes) -> None:
    keyring_file.write_bytes(content)
    with pytest.raises(KeyringFileError, match="malformed"):
        load_keyring(keyring_file, PASSPHRASE)


def test_oversized_file_is_refused(keyring_file: Path) -> None:
    with keyring_file.open("wb") as handle:
        handle.truncate(5 * 1024 * 1024)
    with pytest.raises(KeyringFileError, match="larger than"):
        load_keyring(keyring_file, PASSPHRASE)


def test_every_load_failure_is_a_crypto_error(keyring_file: Path) -> None:
    keyring_file.write_bytes(os.urandom(300))
    with pytest.raises(CryptoError):
        load_keyring(keyring_file, PASSPHRASE)


def test_kdf_params_bounds() -> None:
    with pytest.raises(ValueError, match="lanes"):
        KdfParams(lanes=0)
    with pytest.raises(ValueError, match="memory"):
        KdfParams(memory_kib=8, lanes=2)
    with pytest.raises(ValueError, match="iterations"):
        KdfParams(iterations=0)
    assert KdfParams() == KdfParams(memory_kib=65536, iterations=3, lanes=4)


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "keyring.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyringFileError, match="not a regular file"):
        load_keyring(fifo, PASSPHRASE)


def test_empty_passphrase_does_not_open_a_file(keyring_file: Path) -> None:
    with pytest.raises(BadPassphrase):
        load_keyring(keyring_file, b"")
