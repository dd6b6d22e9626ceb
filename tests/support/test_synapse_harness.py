"""The Synapse harness works: a real homeserver, two users, an end-to-end encrypted message.

Synapse lives in its own venv (`HRD_TEST_SYNAPSE_VENV`, default `.cache/synapse-venv`),
installed on first use. Outside CI a machine that cannot install it skips; in CI it fails.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.synapse import Synapse, default_venv_dir, ensure_synapse_venv, skip_reason

try:
    import nio
except ImportError:  # pragma: no cover - depends on the install
    if os.environ.get("CI"):
        raise
    pytest.skip("matrix-nio[e2e] is not installed", allow_module_level=True)
if not nio.crypto.ENCRYPTION_ENABLED:  # pragma: no cover - depends on the install
    if os.environ.get("CI"):
        raise RuntimeError("matrix-nio has no end-to-end support (vodozemac missing)")
    pytest.skip("matrix-nio has no end-to-end support (vodozemac)", allow_module_level=True)

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
SECRET_TEXT = "hello B, this is end-to-end encrypted"


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    reason = skip_reason(default_venv_dir())  # installs Synapse on first use
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"Synapse is required in CI: {reason}")
        pytest.skip(reason)
    python = ensure_synapse_venv(default_venv_dir())  # cached: returns at once
    with Synapse(python, workdir=tmp_path_factory.mktemp("synapse")) as server:
        yield server


def test_synapse_answers_and_registers(synapse: Synapse) -> None:
    versions = synapse.request("GET", "/_matrix/client/versions")
    assert "v1.1" in versions["versions"]
    user_id, token = synapse.register("harness-admin", PASSWORD, admin=True)
    assert user_id == "@harness-admin:localhost"
    whoami = synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)
    assert whoami["user_id"] == user_id


def _client(synapse: Synapse, user_id: str, store: Path) -> nio.AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    return nio.AsyncClient(synapse.base_url, user_id, store_path=str(store), config=config)


async def _settle(client: nio.AsyncClient) -> nio.SyncResponse:
    """One sync, then whatever key traffic that sync calls for (as sync_forever does)."""
    response = await client.sync(timeout=0, full_state=client.next_batch is None)
    assert isinstance(response, nio.SyncResponse), response
    if client.should_upload_keys:
        assert isinstance(await client.keys_upload(), nio.KeysUploadResponse)
    if client.should_query_keys:
        assert isinstance(await client.keys_query(), nio.KeysQueryResponse)
    return response


async def _encrypted_round_trip(synapse: Synapse, tmp: Path) -> tuple[str, str, str]:
    """A sends an encrypted text to B; return (room_id, event_id, A's access token)."""
    a_id, _ = synapse.register("alice", PASSWORD)
    b_id, _ = synapse.register("bob", PASSWORD)
    alice = _client(synapse, a_id, tmp / "alice-store")
    bob = _client(synapse, b_id, tmp / "bob-store")
    try:
        for client, device in ((alice, "ALICEDEVICE"), (bob, "BOBDEVICE")):
            login = await client.login(PASSWORD, device_name=device)
            assert isinstance(login, nio.LoginResponse), login
            assert client.olm is not None, "the e2e store did not load"
            await _settle(client)  # uploads device and one-time keys

        created = await alice.room_create(
            name="e2e harness",
            invite=[b_id],
            initial_state=[nio.EnableEncryptionBuilder().as_dict()],
        )
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id

        for _ in range(50):
            await _settle(bob)
            if room_id in bob.invited_rooms:
                break
            await asyncio.sleep(0.1)
        assert isinstance(await bob.join(room_id), nio.JoinResponse)

        for _ in range(50):  # A must see B joined *and* know B's device keys
            await _settle(alice)
            await _settle(bob)
            room = alice.rooms.get(room_id)
            if room and b_id in room.users and list(alice.device_store.active_user_devices(b_id)):
                break
            await asyncio.sleep(0.1)
        assert alice.rooms[room_id].encrypted
        assert list(alice.device_store.active_user_devices(b_id)), "A never saw B's device"

        sent = await alice.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": SECRET_TEXT},
            ignore_unverified_devices=True,  # claims B's one-time key, shares the megolm key
        )
        assert isinstance(sent, nio.RoomSendResponse), sent

        received: nio.Event | None = None
        for _ in range(50):
            response = await _settle(bob)
            timeline = response.rooms.join.get(room_id)
            for event in timeline.timeline.events if timeline else []:
                if event.event_id == sent.event_id:
                    received = event
            if isinstance(received, nio.MegolmEvent):  # room key came in a later sync
                received = bob.decrypt_event(received)
            if received is not None:
                break
            await asyncio.sleep(0.1)
        assert isinstance(received, nio.RoomMessageText), received
        assert received.body == SECRET_TEXT
        assert received.decrypted
        assert received.sender == a_id
        assert alice.access_token is not None
        return room_id, sent.event_id, alice.access_token
    finally:
        await alice.close()
        await bob.close()


def test_encrypted_message_between_two_users(synapse: Synapse, tmp_path: Path) -> None:
    room_id, event_id, a_token = asyncio.run(_encrypted_round_trip(synapse, tmp_path))

    # What the server holds is ciphertext only.
    path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/messages?dir=b&limit=50"
    chunk = synapse.request("GET", path, token=a_token)["chunk"]
    raw = next(event for event in chunk if event["event_id"] == event_id)
    assert raw["type"] == "m.room.encrypted"
    assert raw["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert SECRET_TEXT not in str(chunk)
    state = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/state", token=a_token
    )
    assert any(event["type"] == "m.room.encryption" for event in state)
