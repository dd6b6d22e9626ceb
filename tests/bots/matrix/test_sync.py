"""The sync loop's queue without a homeserver: order, held events, giving up, the outbox.

Fakes stand in for the nio client, the rooms and the core: they record what
the loop asked of them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import nio

from bots.matrix.events import RoomId, Send, Step
from bots.matrix.state import MatrixState
from bots.matrix.sync import SyncLoop, Timing, _Queued
from intake.messages import Inbound, Outbound, Reply

ROOM_A, ROOM_B = RoomId("!a:hs"), RoomId("!b:hs")


def _encrypted(event_id: str) -> Any:
    return nio.Event.parse_event(
        {
            "type": "m.room.encrypted",
            "event_id": event_id,
            "sender": "@d:hs",
            "origin_server_ts": 1,
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "sender_key": "K",
                "device_id": "D",
                "session_id": "S",
                "ciphertext": "C",
            },
        }
    )


def _decrypted(event_id: str, body: str) -> Any:
    event = nio.Event.parse_decrypted_event(
        {
            "type": "m.room.message",
            "event_id": event_id,
            "sender": "@d:hs",
            "origin_server_ts": 1,
            "content": {"msgtype": "m.text", "body": body},
        }
    )
    event.decrypted = True
    return event


class FakeClient:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # event id -> plaintext, once its room key "arrived"
        self.key_requests: list[str] = []

    def decrypt_event(self, event: Any) -> Any:
        if event.event_id not in self.keys:
            raise nio.EncryptionError("no session")
        return _decrypted(event.event_id, self.keys[event.event_id])

    async def request_room_key(self, event: Any) -> None:
        self.key_requests.append(event.event_id)


class FakeRooms:
    own_user = "@bot:hs"

    def __init__(self) -> None:
        self.performed: list[tuple[str, list[Step]]] = []

    def is_group(self, room: str) -> bool:
        return False

    def is_encrypted(self, room: str) -> bool:
        return True

    async def perform(self, room: str, steps: list[Step]) -> list[str]:
        self.performed.append((room, list(steps)))
        return [f"trace-of-{len(self.performed)}"]


class FakeService:
    max_attachment_bytes = 1024

    def __init__(self) -> None:
        self.batches: list[list[Inbound]] = []
        self.sent: list[tuple[str, list[str]]] = []
        self.fail = False

    def handle_batch(self, messages: list[Inbound]) -> list[list[Outbound]]:
        if self.fail:
            raise RuntimeError("database is down")
        self.batches.append(list(messages))
        return [[Reply(f"got {m.text or m.unsupported}")] for m in messages]

    def record_sent(self, channel: str, sender: str, ids: list[str]) -> None:
        self.sent.append((sender, list(ids)))

    def notice(self, key: str, language: str | None = None) -> str:
        return key


class MemoryStore:
    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.history: list[str] = []

    def get(self, key: str) -> bytes | None:
        return self.values.get(key)

    def put(self, key: str, value: bytes) -> None:
        self.history.append(f"put {key}")
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.history.append(f"delete {key}")
        self.values.pop(key, None)


def _loop(
    timing: Timing | None = None,
) -> tuple[SyncLoop, FakeClient, FakeRooms, FakeService, MemoryStore]:
    client, rooms, service, store = FakeClient(), FakeRooms(), FakeService(), MemoryStore()
    loop = SyncLoop(
        client, MatrixState(store), service, rooms, media=None, timing=timing or Timing()
    )  # type: ignore[arg-type]
    return loop, client, rooms, service, store


def _queue(loop: SyncLoop, room: RoomId, *events: Any, age: float = 0.0) -> None:
    now = time.monotonic()
    queue = loop._queues.setdefault(room, deque())
    for event in events:
        queue.append(_Queued(event, now - age))


def test_an_undecryptable_message_holds_back_its_room_only_and_order_is_kept() -> None:
    loop, client, rooms, service, store = _loop()

    async def scenario() -> None:
        # Room A: an answer whose room key has not arrived, then a readable one.
        _queue(loop, ROOM_A, _encrypted("$a1"), _decrypted("$a2", "second"))
        _queue(loop, ROOM_B, _decrypted("$b1", "other room"))
        assert await loop._process()
        assert [m.message_id for m in service.batches[0]] == ["$b1"]
        assert len(loop._queues[ROOM_A]) == 2  # held, in order
        # The key arrives: both go, in the order they were written.
        client.keys["$a1"] = "first"
        assert await loop._process()
        assert [m.text for m in service.batches[1]] == ["first", "second"]
        assert not loop._queues

    asyncio.run(scenario())
    # Each batch's answers were kept (sealed) until sent, then dropped.
    assert store.history.count("put outbox") == 2 and store.history[-1] == "delete outbox"
    assert [room for room, _ in rooms.performed] == [ROOM_B, ROOM_A, ROOM_A]
    assert rooms.performed[1][1] == [Send("got first")]
    assert service.sent[0] == ("@d:hs", ["trace-of-1"])


def test_a_message_that_never_decrypts_is_recorded_as_unreadable() -> None:
    loop, client, _, service, _ = _loop(Timing(request_keys_after=0.0, give_up_after=1e9))

    async def scenario() -> None:
        _queue(loop, ROOM_A, _encrypted("$a1"))
        assert await loop._process()
        assert client.key_requests == ["$a1"] and not service.batches
        # Past the deadline the defender is told to send it again; it is recorded once.
        loop._queues[ROOM_A][0].first_seen = -2e9
        assert await loop._process()
        [[message]] = service.batches
        assert message.message_id == "$a1" and message.unsupported == "unsupported"

    asyncio.run(scenario())


def test_a_failed_batch_keeps_the_events_and_tells_the_defender_once() -> None:
    loop, _, rooms, service, store = _loop()

    async def scenario() -> None:
        _queue(loop, ROOM_A, _decrypted("$a1", "x"))
        service.fail = True
        assert not await loop._process()
        assert not await loop._process()
        assert len(loop._queues[ROOM_A]) == 1
        service.fail = False
        assert await loop._process()

    rooms_sent: list[str] = []

    async def send_encrypted(room: str, body: str) -> str:
        rooms_sent.append(body)
        return "$n"

    rooms.send_encrypted = send_encrypted  # type: ignore[attr-defined]
    asyncio.run(scenario())
    assert rooms_sent == ["back_shortly"]
    assert [m.message_id for m in service.batches[0]] == ["$a1"]
    assert "put sync_token" not in store.history  # the loop saves it, not _process
