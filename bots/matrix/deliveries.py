"""Matrix's side of deliveries: officers' replies to defenders, notifications to officers.

The worker (`bots.deliveries`) claims and records; this module sends, through
the same encrypted path as the conversation's answers (`Rooms.send_checked`:
encrypted rooms only, every recipient device through the trust-on-first-use
check). A reply goes as `m.text` into the room the defender wrote from, and
only while the defender is alone there with the bot; a notification goes as
`m.notice` into the officers' room (`[notifications] matrix_room`) and nowhere
else. The trace id of a reply (room and event, `encode_trace`) joins the
conversation's, so a later "delete" redacts it with the rest.

The worker starts claiming only once the sync loop has taken in its first
sync (before that nio knows no room, and every delivery would look refused).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import nio  # type: ignore[import-untyped]

from bots.deliveries import Refused, Unavailable
from bots.matrix.events import RoomId, encode_trace
from bots.matrix.rooms import CHANNEL, NotDelivered, Rooms
from intake.messages import PendingDelivery

__all__ = ["MatrixSender"]


class MatrixSender:
    """Sends deliveries into encrypted rooms (a `bots.deliveries.Sender`).

    Args:
        client: the signed-in nio client (a `DurableKeysClient`).
        rooms: the channel's rooms (policy, trust, encrypted sends).
    """

    channel = CHANNEL

    def __init__(self, client: Any, rooms: Rooms) -> None:
        self._client = client
        self._rooms = rooms

    async def ready(self) -> bool:
        if not getattr(self._client, "synced_once", False):
            return False
        try:
            response = await self._client.whoami()  # changes nothing on the server
        except (aiohttp.ClientError, TimeoutError):
            return False
        return isinstance(response, nio.WhoamiResponse)

    async def send(self, delivery: PendingDelivery) -> list[str]:
        room = RoomId(delivery.chat)
        if delivery.kind == "notify":
            if not self._rooms.is_officers_room(room):
                raise Refused("not the officers' room")
            msgtype = "m.notice"
        else:
            if self._rooms.is_group(room):
                # Others joined the defender's room: the reply would reach them too.
                raise Refused("room shared with others")
            msgtype = "m.text"
        if not self._rooms.others(room):
            raise Refused("nobody else in the room")
        try:
            event_id = await self._rooms.send_checked(room, delivery.text, msgtype)
        except NotDelivered as exc:
            error = Refused if exc.refused else Unavailable
            raise error(exc.reason) from None
        return [encode_trace(room, event_id)]
