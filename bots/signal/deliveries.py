"""Signal's side of deliveries: officers' replies to defenders, notifications to officers.

The worker (`bots.deliveries`) claims and records; this module sends. A
reply goes to the defender's ACI (the chat the conversation keeps sealed);
a notification to `[notifications] signal_group`, a Signal group the bot's
account belongs to (its base64 group id).

Failures map onto the worker's hierarchy: the daemon unreachable, rate
limited, or refusing for the bot's own account (unregistered, outdated
client) is `Unavailable` (try later, once it answers); any other refusal of
one recipient (an unregistered defender, an unknown group) is `Refused`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bots.deliveries import Refused, Unavailable
from bots.signal.rpc import DaemonUnavailable, RpcError
from intake.messages import PendingDelivery

__all__ = ["SignalSender"]

CHANNEL = "signal"
_OPERATOR_FAULTS = ("account_unregistered", "client_outdated", "rate_limited")

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


class SignalSender:
    """Sends deliveries through the channel's current daemon connection (`call`)."""

    channel = CHANNEL

    def __init__(self, call: Call) -> None:
        self._call = call

    async def ready(self) -> bool:
        try:
            await self._call("version", {})  # changes nothing
        except (DaemonUnavailable, RpcError):
            return False
        return True

    async def send(self, delivery: PendingDelivery) -> list[str]:
        target: dict[str, Any] = (
            {"groupId": delivery.chat}
            if delivery.kind == "notify"
            else {"recipient": [delivery.chat]}
        )
        try:
            result = await self._call("send", target | {"message": delivery.text})
        except DaemonUnavailable as exc:
            raise Unavailable(type(exc).__name__) from None
        except RpcError as exc:
            if exc.fault in _OPERATOR_FAULTS:
                raise Unavailable(exc.fault or "") from None
            raise Refused(f"code {exc.code}") from None  # its message may name the recipient
        stamp = result.get("timestamp") if isinstance(result, dict) else None
        return [str(stamp)] if isinstance(stamp, int) else []
