"""The sync loop: Matrix events in, one core batch per sync, the token saved last.

Durability: the sync token is saved only when every event before it has
been committed by the core (`handle_batch` returned). Events are queued per
room in arrival order; a room whose next event cannot be decrypted yet (its
room key comes in a later sync, or never) holds its later events back, so
answers never change order, and holds the saved token back too. Killed at
any point, the bot resumes from the saved token and the server sends those
events again; the core's processed-message table makes a second arrival a
no-op (it repeats the current question). Answers go out through the outbox
(`outbox`), saved before sending, so a kill after the commit does not
swallow them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import aiohttp
import nio  # type: ignore[import-untyped]

from bots.core import Core
from bots.matrix.client import sync_filter, unless_stopped
from bots.matrix.events import (
    Ignore,
    Meaning,
    Media,
    Plaintext,
    RoomId,
    Text,
    Unsupported,
    classify,
    encode_trace,
    plan,
)
from bots.matrix.forget import note_decrypted
from bots.matrix.media import MediaFetcher, MediaUnavailable
from bots.matrix.outbox import Outbox, OutboxItem
from bots.matrix.rooms import CHANNEL, Rooms
from bots.matrix.state import MatrixState
from intake.messages import Inbound

log = logging.getLogger(__name__)

GAP_PAGES = 20  # pages of 100 events fetched back over a limited timeline
SEEN_LIMIT = 10_000  # event ids remembered against double queueing


class MatrixChannelFailed(Exception):
    """The channel gave up after repeated failures (the process should restart)."""


@dataclass
class _Queued:
    event: Any
    first_seen: float
    key_requested: bool = False


@dataclass(frozen=True)
class Timing:
    """How long to long-poll, how much to fetch, how long to wait for a missing room key."""

    poll_ms: int = 30_000
    timeline_limit: int = 100
    request_keys_after: float = 5.0
    give_up_after: float = 60.0
    max_failures: int = 20
    max_backoff: float = 30.0


class SyncLoop:
    """Syncs, queues events per room, feeds them to the core, renders replies."""

    def __init__(
        self,
        client: Any,
        state: MatrixState,
        service: Core,
        rooms: Rooms,
        media: MediaFetcher,
        timing: Timing,
    ) -> None:
        self._client = client
        self._state = state
        self._service = service
        self._rooms = rooms
        self._media = media
        self._timing = timing
        self._outbox = Outbox(state, rooms, service)
        self._queues: dict[RoomId, deque[_Queued]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._told_back_shortly: set[RoomId] = set()

    async def run(self, stop: asyncio.Event) -> None:
        saved = await asyncio.to_thread(self._state.sync_token)
        since = saved
        full_state = True  # nio keeps no room state across restarts: fetch it once
        failures = 0
        while not stop.is_set():
            waiting = any(self._queues.values())
            self._client.next_batch = since  # our position, not nio's
            poll = 0 if full_state else (1000 if waiting else self._timing.poll_ms)
            try:
                response = await unless_stopped(
                    stop,
                    self._client.sync(
                        timeout=poll,
                        sync_filter=sync_filter(self._timing.timeline_limit),
                        since=since,
                        full_state=full_state,
                    ),
                )
            except (aiohttp.ClientError, TimeoutError):
                response = None if stop.is_set() else nio.SyncError("transport error")
            if stop.is_set():
                return
            if not isinstance(response, nio.SyncResponse):
                if getattr(response, "status_code", None) == "M_UNKNOWN_TOKEN":
                    raise MatrixChannelFailed("the access token was revoked: log in again")
                failures = await self._failed(stop, failures, "sync failed")
                continue
            await self._maintain_keys()
            if full_state:  # rooms and members are known now
                full_state = False
                await self._outbox.resume()
            await self._take(response, since)
            since = response.next_batch
            if not await self._process():
                failures = await self._failed(stop, failures, "batch not recorded; will retry")
                continue
            failures = 0
            if not any(self._queues.values()) and since != saved:
                await asyncio.to_thread(self._state.save_sync_token, since)
                saved = since

    async def _failed(self, stop: asyncio.Event, failures: int, what: str) -> int:
        failures += 1
        log.warning(what, extra={"channel": CHANNEL, "count": failures})
        if failures >= self._timing.max_failures:
            raise MatrixChannelFailed(f"{what}: {failures} times in a row")
        delay = min(self._timing.max_backoff, 0.5 * 2 ** min(failures, 10))
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass
        return failures

    async def _maintain_keys(self) -> None:
        """The key traffic a sync calls for (nio's sync_forever does the same)."""
        client = self._client
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
        except (aiohttp.ClientError, TimeoutError):
            log.warning("key maintenance failed; retried next sync", extra={"channel": CHANNEL})

    # -- taking events ---------------------------------------------------------

    async def _take(self, response: Any, since: str | None) -> None:
        await self._rooms.accept(list(response.rooms.invite))
        own = self._rooms.own_user
        joined: list[RoomId] = []
        now = time.monotonic()
        for room_id, info in response.rooms.join.items():
            room = RoomId(room_id)
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None:
                events = await self._fill_gap(room, info.timeline.prev_batch, since) + events
            for event in events:
                if (
                    isinstance(event, nio.RoomMemberEvent)
                    and event.state_key == own
                    and event.membership == "join"
                    and event.prev_membership != "join"
                ):
                    joined.append(room)
                if event.sender == own or not event.event_id or event.event_id in self._seen:
                    continue
                self._seen[event.event_id] = None
                if len(self._seen) > SEEN_LIMIT:
                    self._seen.popitem(last=False)
                self._queues.setdefault(room, deque()).append(_Queued(event, now))
        for room in joined:
            await self._apply_policy(room)

    async def _apply_policy(self, room: RoomId) -> bool:
        """Refuse a group or an unencrypted room; True if the room may converse."""
        if self._rooms.is_group(room):
            self._queues.pop(room, None)
            await self._rooms.refuse_group(room)
            return False
        if not self._rooms.is_encrypted(room):
            await self._rooms.refuse_unencrypted(room)
            return False
        return True

    async def _fill_gap(self, room: RoomId, prev_batch: str | None, since: str) -> list[Any]:
        """Events the server left out of a limited timeline, oldest first."""
        older: list[Any] = []
        start = prev_batch
        for _ in range(GAP_PAGES):
            if start is None:
                break
            response = await self._client.room_messages(
                room, start=start, end=since, direction=nio.MessageDirection.back, limit=100
            )
            if not isinstance(response, nio.RoomMessagesResponse) or not response.chunk:
                break
            older.extend(response.chunk)
            start = response.end
        else:
            log.warning("timeline gap too long; oldest events skipped", extra={"channel": CHANNEL})
        older.reverse()
        log.info("timeline gap filled", extra={"channel": CHANNEL, "count": len(older)})
        return older

    # -- feeding the core -------------------------------------------------------

    async def _process(self) -> bool:
        """Feed ready events to the core in one batch; False if it failed (retry later)."""
        batch: list[tuple[RoomId, Inbound]] = []
        taken: dict[RoomId, int] = {}
        for room, queue in list(self._queues.items()):
            if queue and self._rooms.is_group(room):
                await self._apply_policy(room)
                continue
            count = 0
            for item in queue:
                meaning = await self._meaning(room, item)
                if meaning is None:
                    break  # waiting for its room key; later events wait too
                count += 1
                inbound = await self._inbound(room, item.event, meaning)
                if inbound is not None:
                    batch.append((room, inbound))
            taken[room] = count
        results: list[list[Any]] = []
        if batch:
            try:
                results = await asyncio.to_thread(
                    self._service.handle_batch, [inbound for _, inbound in batch]
                )
            except Exception:  # any failure: nothing was committed, retry later
                log.exception("the core could not record a batch", extra={"channel": CHANNEL})
                await self._tell_back_shortly({room for room, _ in batch})
                return False
        self._told_back_shortly.clear()
        for room, count in taken.items():
            queue = self._queues[room]
            for _ in range(count):
                queue.popleft()
            if not queue:
                del self._queues[room]
        await self._outbox.deliver(
            [
                OutboxItem(room, inbound.sender, plan(outbounds))
                for (room, inbound), outbounds in zip(batch, results, strict=True)
            ]
        )
        return True

    async def _meaning(self, room: RoomId, item: _Queued) -> Meaning | None:
        event = item.event
        if isinstance(event, nio.MegolmEvent):
            event.room_id = room
            try:
                decrypted = self._client.decrypt_event(event)
            except nio.EncryptionError:
                decrypted = None
            if decrypted is None or isinstance(decrypted, nio.MegolmEvent):
                return await self._undecryptable(item)
            item.event = event = decrypted
        note_decrypted(self._client, room, event)
        return classify(event.source, bool(getattr(event, "decrypted", False)), undecrypted=False)

    async def _undecryptable(self, item: _Queued) -> Meaning | None:
        age = time.monotonic() - item.first_seen
        if age >= self._timing.give_up_after:
            log.warning(
                "a message could not be decrypted; the defender is asked to resend",
                extra={"channel": CHANNEL},
            )
            return Unsupported("unsupported")
        if age >= self._timing.request_keys_after and not item.key_requested:
            item.key_requested = True
            try:
                await self._client.request_room_key(item.event)
            except (nio.LocalProtocolError, aiohttp.ClientError, TimeoutError):
                log.info("room key request not sent", extra={"channel": CHANNEL})
        return None

    async def _inbound(self, room: RoomId, event: Any, meaning: Meaning) -> Inbound | None:
        if isinstance(meaning, Ignore):
            return None
        if isinstance(meaning, Plaintext):
            if self._rooms.is_encrypted(room):
                log.warning(
                    "unencrypted message in an encrypted room ignored", extra={"channel": CHANNEL}
                )
            else:
                await self._rooms.refuse_unencrypted(room)
            return None
        if not self._rooms.is_encrypted(room):
            return None  # decrypted content in a room nio no longer thinks encrypted: refuse
        fields: dict[str, Any] = {}
        if isinstance(meaning, Text):
            fields["text"] = meaning.text
        elif isinstance(meaning, Unsupported):
            fields["unsupported"] = meaning.reason
        elif isinstance(meaning, Media):
            try:
                fields["attachment"] = await self._media.fetch(
                    meaning, self._service.max_attachment_bytes
                )
            except MediaUnavailable:
                log.warning("a file could not be fetched", extra={"channel": CHANNEL})
                fields["unsupported"] = "unsupported"
        return Inbound(
            channel=CHANNEL,
            sender=str(event.sender),
            chat=room,
            message_id=str(event.event_id),
            trace_id=encode_trace(room, event.event_id),
            **fields,
        )

    async def _tell_back_shortly(self, rooms: set[RoomId]) -> None:
        for room in rooms - self._told_back_shortly:
            self._told_back_shortly.add(room)
            await self._rooms.send_encrypted(room, self._service.notice("back_shortly"))
