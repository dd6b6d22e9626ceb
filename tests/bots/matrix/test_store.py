"""The encryption store in the database: what nio saves comes back; a file store moves in once."""

from __future__ import annotations

from pathlib import Path

import nio
import pytest
from nio.crypto import OlmDevice
from nio.store import SqliteStore
from sqlalchemy import select

from bots.matrix.legacy import move_legacy_store
from bots.matrix.store import DatabaseStore
from intake.errors import RetireRefused
from intake.storage.channel_items import ChannelItemStore
from intake.storage.models import ChannelItem
from tests.bots.matrix.harness import matrix_items
from tests.support.keys import fresh_cipher, retire, rotate
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup

USER, DEVICE, KEY = "@bot:localhost", "BOTDEVICE1", "pickle-key"
DEFENDER = "@canary-defender-7f3a:localhost"
ROOM = "!canaryroomidwithoutserver0123456789abcdefgh"


def _legacy_client(folder: Path) -> nio.AsyncClient:
    folder.mkdir(exist_ok=True)
    config = nio.AsyncClientConfig(store=SqliteStore, pickle_key=KEY, store_sync_tokens=False)
    client = nio.AsyncClient("http://127.0.0.1:9", USER, store_path=str(folder), config=config)
    client.restore_login(USER, DEVICE, "token")
    return client


def _fill(client: nio.AsyncClient) -> OlmDevice:
    """An encrypted room, a defender's device (verified), and an inbound room key."""
    device = OlmDevice(DEFENDER, "PHONE", {"ed25519": "e" * 43, "curve25519": "c" * 43})
    client.olm.device_store.add(device)
    client.store.save_device_keys({DEFENDER: {"PHONE": device}})
    client.verify_device(device)
    client.store.save_encrypted_rooms([ROOM])
    client.olm.create_outbound_group_session(ROOM)  # also keeps an inbound copy
    return device


def test_what_nio_saves_comes_back_and_nothing_is_readable(setup: Setup) -> None:
    items = matrix_items(setup)
    store = DatabaseStore(items, USER, DEVICE, KEY)
    config = nio.AsyncClientConfig(store=lambda *_: store, pickle_key=KEY)
    client = nio.AsyncClient("http://127.0.0.1:9", USER, store_path="database", config=config)
    client.restore_login(USER, DEVICE, "token")
    device = _fill(client)
    identity = client.olm.account.identity_keys

    again = DatabaseStore(items, USER, DEVICE, KEY)
    assert again.load_account().identity_keys == identity
    assert again.load_encrypted_rooms() == {ROOM}
    assert [s.room_id for s in again.load_inbound_group_sessions()] == [ROOM]
    assert again.is_device_verified(device)
    with setup.sessions() as session:
        rows = list(session.scalars(select(ChannelItem)))
    assert {"account", "device", "room", "group_session"} <= {row.kind for row in rows}
    # Canaries: no Matrix id, room id or key in any column, nor (SQLite) in the files.
    canaries = [USER, DEVICE, DEFENDER, ROOM, identity["curve25519"]]
    for row in rows:
        assert not any(c.encode() in row.value_ct or c in row.item for c in canaries)
    if setup.engine.dialect.name == "sqlite":
        assert leaks(canaries, files_under(setup.settings.home)) == []

    # A new device (a fresh login) starts from an empty store.
    assert DatabaseStore(items, USER, "OTHERDEVICE", KEY).load_account() is None
    assert items.load() == {}


def test_a_legacy_file_store_moves_in_once(primary_setup: Setup, tmp_path: Path) -> None:
    folder = tmp_path / "matrix-store"
    legacy = _legacy_client(folder)
    device = _fill(legacy)
    identity = legacy.olm.account.identity_keys
    legacy.store.database.close()
    items = matrix_items(primary_setup)

    assert move_legacy_store(folder, items, USER, DEVICE, KEY)

    moved = DatabaseStore(items, USER, DEVICE, KEY)
    assert moved.load_account().identity_keys == identity
    assert moved.load_encrypted_rooms() == {ROOM}
    assert moved.is_device_verified(device)
    assert len(list(moved.load_inbound_group_sessions())) == 1
    assert list(folder.iterdir()) == []  # the files with ids in plaintext are gone
    assert not move_legacy_store(folder, items, USER, DEVICE, KEY)  # once


def test_items_move_to_a_new_pseudonym_key_and_block_its_retirement_until_then(
    primary_setup: Setup,
) -> None:
    setup = primary_setup
    matrix_items(setup).put("room", ROOM, b"{}")
    assert rotate(setup, "pseudonym") == 2
    # Given items still under version 1, that version may not go yet.
    with pytest.raises(RetireRefused, match="channel_items"):
        retire(setup, 1, "pseudonym")
    # When the channel starts (a service on the new keyring loads its store):
    items = ChannelItemStore("matrix", setup.sessions, fresh_cipher(setup), setup.clock)
    assert items.load() == {"room": {ROOM: b"{}"}}
    with setup.sessions() as session:
        [row] = session.scalars(select(ChannelItem)).all()
    assert row.pseudonym_version == 2
    items.delete("room", ROOM)
    assert items.load() == {}
