"""Rooms: which ones the bot talks in, and what it says and redacts there.

Policy: one defender per room. A room with more members is refused and left.
A room without end-to-end encryption gets a notice (necessarily in the
clear, and without any case content) and an invitation to an encrypted room
the bot creates itself, which also gives the bot the power to redact the
defender's messages there. Replies go only to encrypted rooms, and room
keys only to the devices `devices` lets through (by default those their owner
cross-signed, like Element).

The officers' room (`[notifications] matrix_room`) is the one exception to
"one defender per room": the bot stays in it, never treats what is said
there as a conversation, and only posts notifications into it (encrypted,
to the officers' devices trusted on first use like a defender's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import nio  # type: ignore[import-untyped]

from bots.core import Core
from bots.matrix.devices import DeviceTrust
from bots.matrix.events import (
    EventId,
    Redact,
    RoomId,
    Step,
    UserId,
    decode_trace,
    encode_trace,
    message_content,
)
from bots.matrix.forget import forget_room_keys
from bots.matrix.state import MatrixState

log = logging.getLogger(__name__)

CHANNEL = "matrix"
# A refusal notice is repeated at most this often in a given room.
NOTICE_INTERVAL = 30.0
# Sending a reply is retried: a message the server did not take can be sent
# again (at worst the defender sees a question twice).
SEND_ATTEMPTS = 3


class NotDelivered(Exception):
    """A message was not sent.

    Attributes:
        reason: a short phrase, safe to log (no ids).
        refused: repeating cannot help (not in the room, unencrypted, forbidden).
    """

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


_PRIVATE_ROOM_STATE = (
    nio.EnableEncryptionBuilder().as_dict(),
    # Someone invited later does not read what came before.
    {
        "type": "m.room.history_visibility",
        "state_key": "",
        "content": {"history_visibility": "joined"},
    },
    {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
)


class Rooms:
    """Room policy and rendering for one signed-in client.

    Args:
        client: the signed-in nio client.
        state: the channel's sealed state (trust records, offers).
        service: the conversation service (notices only; no business logic here).
        officers_room: where officers are notified (never a conversation).
        devices: decides which devices get room keys (default: cross-signed
            ones, with no way to read cross-signing keys: tests only).
    """

    def __init__(
        self,
        client: Any,
        state: MatrixState,
        service: Core,
        officers_room: RoomId | None = None,
        devices: DeviceTrust | None = None,
    ) -> None:
        self._client = client
        self._devices = devices or DeviceTrust(client, None, state, service)
        self._state = state
        self._service = service
        self._officers_room = officers_room
        # One encrypted send at a time (the sync loop's answers, the delivery
        # worker's): the trust check and nio's group session see one sender.
        self._sending = asyncio.Lock()
        self._offers: dict[str, str] = {}
        self._noticed: dict[str, float] = {}

    async def load(self) -> None:
        await self._devices.load()
        self._offers = await asyncio.to_thread(self._state.offers)

    @property
    def own_user(self) -> UserId:
        return UserId(str(self._client.user_id))

    def room(self, room_id: RoomId) -> Any | None:
        return self._client.rooms.get(room_id)

    def is_encrypted(self, room_id: RoomId) -> bool:
        room = self.room(room_id)
        return bool(room is not None and room.encrypted)

    def others(self, room_id: RoomId) -> list[UserId]:
        room = self.room(room_id)
        if room is None:
            return []
        members = set(room.users) | set(room.invited_users)
        return sorted(UserId(u) for u in members if u != self.own_user)

    def is_officers_room(self, room_id: RoomId) -> bool:
        return room_id == self._officers_room

    def is_group(self, room_id: RoomId) -> bool:
        """Not a one-to-one conversation: several others, or the officers' room."""
        return self.is_officers_room(room_id) or len(self.others(room_id)) > 1

    # -- invitations and policy -------------------------------------------

    async def accept(self, room_ids: Sequence[str]) -> None:
        """Join the rooms we are invited to; the policy applies once we see them."""
        for room_id in room_ids:
            response = await self._client.join(room_id)
            if not isinstance(response, nio.JoinResponse):
                log.warning("could not accept an invitation", extra={"channel": CHANNEL})
        if room_ids:
            log.info("invitations accepted", extra={"channel": CHANNEL, "count": len(room_ids)})

    async def refuse_group(self, room_id: RoomId) -> None:
        if self.is_officers_room(room_id):
            return  # the bot stays there, silent: what officers say is not for the core
        await self._send_notice(room_id, "group_refused", force=True)
        await self._client.room_leave(room_id)
        log.info("left a room with several members", extra={"channel": CHANNEL})

    async def refuse_unencrypted(self, room_id: RoomId) -> None:
        """Say we do not talk here, and invite the defender to an encrypted room.

        One encrypted room per plain room: created once, the defender
        invited again if they are no longer in it.
        """
        others = self.others(room_id)
        if len(others) != 1:
            return
        defender = others[0]
        offered = self._offers.get(room_id)
        if offered is None or self.room(RoomId(offered)) is None:
            created = await self._client.room_create(
                is_direct=True,
                preset=nio.RoomPreset.private_chat,
                invite=[defender],
                initial_state=list(_PRIVATE_ROOM_STATE),
            )
            if not isinstance(created, nio.RoomCreateResponse):
                log.warning("could not open an encrypted room", extra={"channel": CHANNEL})
                return
            self._offers[room_id] = created.room_id
            await asyncio.to_thread(self._state.save_offers, dict(self._offers))
            log.info("encrypted room offered instead of a plain one", extra={"channel": CHANNEL})
        elif defender not in self.others(RoomId(offered)):
            await self._client.room_invite(offered, defender)
        await self._send_notice(room_id, "unencrypted_room")

    async def _send_notice(self, room_id: RoomId, key: str, force: bool = False) -> None:
        """A channel notice (no case content): encrypted where the room is."""
        now = time.monotonic()
        if not force and now - self._noticed.get(room_id, -NOTICE_INTERVAL) < NOTICE_INTERVAL:
            return
        self._noticed[room_id] = now
        content = {"msgtype": "m.notice", "body": self._service.notice(key)}
        if self.is_encrypted(room_id) and self._client.should_query_keys:
            await self._client.keys_query()
        # Not a conversation: no trust-on-first-use records for a room we refuse.
        response = await self._client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        if not isinstance(response, nio.RoomSendResponse):
            log.warning("notice not sent", extra={"channel": CHANNEL})

    # -- trust ---------------------------------------------------------------

    async def _prepare(self, room_id: RoomId) -> None:
        """Know and trust-check every device we are about to encrypt to (`devices`)."""
        await self._devices.prepare(self.others(room_id), self.is_officers_room(room_id))

    # -- replies and traces ------------------------------------------------

    async def perform(self, room_id: RoomId, steps: Sequence[Step]) -> list[str]:
        """Send and redact in order; return trace ids of the messages sent."""
        sent: list[str] = []
        for step in steps:
            if isinstance(step, Redact):
                await self.redact(step.traces)
                # The chat is wiped: the store must not decrypt it later either.
                async with self._sending:
                    forget_room_keys(self._client, room_id)
                continue
            event_id = await self.send_encrypted(room_id, step.body)
            if event_id is not None:
                sent.append(encode_trace(room_id, event_id))
        return sent

    async def send_encrypted(self, room_id: RoomId, body: str) -> EventId | None:
        """Send one message, end-to-end encrypted; None if it could not be sent."""
        try:
            return await self.send_checked(room_id, body)
        except NotDelivered:
            return None

    async def send_checked(self, room_id: RoomId, body: str, msgtype: str = "m.text") -> EventId:
        """Send one message, end-to-end encrypted, to the devices the trust check passed.

        Raises:
            NotDelivered: `refused` when the bot is not in an encrypted room it
                may write to; otherwise the server kept failing.
        """
        if self.room(room_id) is None:
            raise NotDelivered("not in the room", refused=True)
        if not self.is_encrypted(room_id):
            # Never reached through the policy; refuse rather than leak.
            log.error("refused to send a reply to an unencrypted room", extra={"channel": CHANNEL})
            raise NotDelivered("room not encrypted", refused=True)
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                async with self._sending:
                    await self._prepare(room_id)
                    response = await self._client.room_send(
                        room_id,
                        "m.room.message",
                        message_content(body, msgtype),
                        ignore_unverified_devices=False,
                    )
            except nio.OlmUnverifiedDeviceError:
                # A device appeared between the check and the send: check again.
                continue
            except (aiohttp.ClientError, TimeoutError, nio.SendRetryError):
                response = None
            if isinstance(response, nio.RoomSendResponse):
                return EventId(str(response.event_id))
            if isinstance(response, nio.ErrorResponse) and response.status_code == "M_FORBIDDEN":
                log.error("reply refused by the server", extra={"channel": CHANNEL})
                raise NotDelivered("forbidden", refused=True)
            log.warning("reply not sent yet", extra={"channel": CHANNEL, "count": attempt})
            await asyncio.sleep(0.5 * attempt)
        log.error("reply could not be sent", extra={"channel": CHANNEL})
        raise NotDelivered("server unavailable", refused=False)

    async def redact(self, traces: Sequence[str]) -> None:
        """Redact these events where our power level allows (always our own)."""
        done = denied = 0
        for trace in traces:
            decoded = decode_trace(trace)
            if decoded is None:
                continue
            room_id, event_id = decoded
            try:
                response = await self._client.room_redact(room_id, event_id)
            except (aiohttp.ClientError, TimeoutError):
                response = None
            if isinstance(response, nio.RoomRedactResponse):
                done += 1
            else:
                denied += 1
        log.info("messages redacted", extra={"channel": CHANNEL, "count": done})
        if denied:
            log.info(
                "messages left (no power to redact)",
                extra={"channel": CHANNEL, "count": denied},
            )
