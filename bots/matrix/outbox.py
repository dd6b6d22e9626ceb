"""Answers the core gave to a recorded batch, kept sealed until they are sent.

The core commits a batch, then the channel sends its answers. Killed in
between, the messages would come again after restart, but as duplicates:
the core repeats only the current question, so an answer such as a case
reference would be lost. So the answers are saved (sealed under the keyring,
in the channel state: they may quote the defender's draft) before the first
is sent and dropped after the last; the next start sends what is left
(perhaps some twice: at least once, never none). The window between the
core's commit and this save remains: closing it needs the core to keep the
answers in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from bots.core import Core
from bots.matrix.events import RoomId, Step, steps_from_json, steps_to_json
from bots.matrix.rooms import CHANNEL, Rooms
from bots.matrix.state import MatrixState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboxItem:
    """What to do in one room for one message of the defender."""

    room: RoomId = field(repr=False)
    sender: str = field(repr=False)
    steps: list[Step] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"room": self.room, "sender": self.sender, "steps": steps_to_json(self.steps)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> OutboxItem:
        return cls(
            RoomId(str(value["room"])), str(value["sender"]), steps_from_json(value["steps"])
        )


class Outbox:
    def __init__(self, state: MatrixState, rooms: Rooms, service: Core) -> None:
        self._state = state
        self._rooms = rooms
        self._service = service

    async def deliver(self, items: list[OutboxItem]) -> None:
        """Send and redact; tell the core which messages we sent (to wipe them later)."""
        if not items:
            return
        await asyncio.to_thread(self._state.save_outbox, [item.to_json() for item in items])
        sent: dict[str, list[str]] = {}
        for item in items:
            traces = await self._rooms.perform(item.room, item.steps)
            sent.setdefault(item.sender, []).extend(traces)
        for sender, traces in sent.items():
            if traces:
                try:
                    await asyncio.to_thread(self._service.record_sent, CHANNEL, sender, traces)
                except Exception:  # losing a trace must not stop the channel
                    log.exception(
                        "sent messages not recorded for wiping", extra={"channel": CHANNEL}
                    )
        await asyncio.to_thread(self._state.clear_outbox)

    async def resume(self) -> None:
        """Send what a killed run recorded but did not finish sending."""
        saved = await asyncio.to_thread(self._state.outbox)
        if saved:
            log.info("sending answers left by the last run", extra={"channel": CHANNEL})
            await self.deliver([OutboxItem.from_json(value) for value in saved])
