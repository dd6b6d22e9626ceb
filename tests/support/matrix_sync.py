"""One sync of a test Matrix client, with the key traffic and decryption it calls for.

Used by the defender of the Matrix channel tests (`tests.bots.matrix.harness`)
and by the defender of `bench/matrix.py`: both must see the bot's answers in
end-to-end encrypted rooms, and both fall into the same pitfall if the loop is
written naively: a room key often arrives one sync after the message it opens,
so an event that does not decrypt yet is kept and retried on the next sync
instead of being dropped.

    inbox = DecryptingSync(client)
    synced = await inbox.sync(timeout_ms=500)
    if isinstance(synced, Synced):
        for room_id, event in synced.events: ...   # decrypted, from the others

Needs matrix-nio with end-to-end support; importing this module imports nio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import nio

__all__ = ["DecryptingSync", "Synced"]


@dataclass(frozen=True)
class Synced:
    """What one successful sync brought.

    Attributes:
        response: the sync response (invites, room state, ...).
        events: (room id, event) of the joined rooms' timelines, decrypted, in
            order, from senders other than this client; events of earlier syncs
            whose room key has come since are included.
        at: time.perf_counter() when the response arrived, before the key traffic.
    """

    response: nio.SyncResponse
    events: list[tuple[str, Any]]
    at: float


class DecryptingSync:
    """Syncs one nio client and keeps the events it cannot decrypt yet."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._pending: list[tuple[str, Any]] = []

    @property
    def undecrypted(self) -> int:
        """How many events wait for their room key."""
        return len(self._pending)

    async def sync(self, timeout_ms: int = 0, full_state: bool = False) -> Synced | Any:
        """One sync, then the key traffic it calls for, then every decryption possible.

        Returns:
            A `Synced`, or the error response as nio returned it (the caller decides
            whether to fail or retry).
        """
        client = self.client
        response = await client.sync(timeout=timeout_ms, full_state=full_state)
        at = time.perf_counter()
        if not isinstance(response, nio.SyncResponse):
            return response
        for room_id, info in response.rooms.join.items():
            self._pending.extend((room_id, event) for event in info.timeline.events)
        # Upload our one-time keys, learn the others' devices and claim sessions
        # with them, then send the room keys that queued: without this the other
        # side could never read what this client sends.
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()
        events: list[tuple[str, Any]] = []
        still: list[tuple[str, Any]] = []
        for room_id, event in self._pending:
            if isinstance(event, nio.MegolmEvent):
                try:
                    event = client.decrypt_event(event)
                except nio.EncryptionError:
                    still.append((room_id, event))
                    continue
            if event.sender != client.user_id:
                events.append((room_id, event))
        self._pending = still
        return Synced(response, events, at)
