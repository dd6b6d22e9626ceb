"""Draft-epoch keys: a keyring kind whose old versions are destroyed outright."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crypto import (
    KdfParams,
    KeyNotFound,
    Keyring,
    KeyVersion,
    load_keyring,
    new_data_key,
    rewrap_data_key,
    save_keyring,
    unwrap_data_key,
    wrap_data_key,
    wrap_draft_key,
    wrapped_key_kind,
    wrapped_key_version,
)
from crypto.errors import Misplaced, Tampered

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CHEAP = KdfParams(memory_kib=1024, iterations=1, lanes=1)


def test_a_draft_wrap_opens_until_its_epoch_is_destroyed() -> None:
    keyring = Keyring.generate(NOW)
    dek = new_data_key()
    wrapped = wrap_draft_key(keyring, dek, "conversation", "c1")
    assert wrapped_key_kind(wrapped) == "draft"
    assert wrapped_key_version(wrapped) == 1
    assert unwrap_data_key(keyring, wrapped, "conversation", "c1") == dek

    later = keyring.rotate("draft", NOW + timedelta(hours=1))
    rewrapped = rewrap_data_key(later, wrapped, "conversation", "c1")
    assert wrapped_key_kind(rewrapped) == "draft" and wrapped_key_version(rewrapped) == 2

    shredded = later.destroy("draft", [KeyVersion(1)])
    assert [e.version for e in shredded.versions("draft")] == [2]
    with pytest.raises(KeyNotFound):
        unwrap_data_key(shredded, wrapped, "conversation", "c1")
    assert unwrap_data_key(shredded, rewrapped, "conversation", "c1") == dek


def test_draft_and_kek_wraps_do_not_stand_in_for_each_other() -> None:
    keyring = Keyring.generate(NOW)
    dek = new_data_key()
    kek_wrapped = wrap_data_key(keyring, dek, "conversation", "c1")
    assert wrapped_key_kind(kek_wrapped) == "kek"
    forged = kek_wrapped[:1] + b"\x06" + kek_wrapped[2:]
    with pytest.raises(Tampered):  # another key, another associated data
        unwrap_data_key(keyring, forged, "conversation", "c1")
    with pytest.raises(Misplaced):
        unwrap_data_key(keyring, wrap_draft_key(keyring, dek, "conversation", "c1"), "case", "c1")


def test_the_current_epoch_cannot_be_destroyed_and_other_kinds_retire() -> None:
    keyring = Keyring.generate(NOW)
    with pytest.raises(ValueError, match="current epoch"):
        keyring.destroy("draft", [KeyVersion(1)])
    with pytest.raises(ValueError, match="retire"):
        keyring.rotate("kek", NOW).destroy("kek", [KeyVersion(1)])


def test_the_file_keeps_draft_keys_and_an_old_file_has_none(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    keyring = Keyring.generate(NOW).rotate("draft", NOW + timedelta(hours=1))
    save_keyring(path, keyring, b"pass", CHEAP)
    loaded = load_keyring(path, b"pass")
    assert [e.version for e in loaded.versions("draft")] == [1, 2]
    assert loaded.primary("draft") == 2

    old = Keyring(
        keyring.keks, keyring.kek_primary, keyring.pseudonym_keys, keyring.pseudonym_primary
    )
    save_keyring(path, old, b"pass", CHEAP)
    reloaded = load_keyring(path, b"pass")
    assert not reloaded.has_primary("draft")
    with pytest.raises(KeyNotFound):
        wrap_draft_key(reloaded, new_data_key(), "conversation", "c1")
    assert reloaded.rotate("draft", NOW).primary("draft") == 1
