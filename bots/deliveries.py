"""Sending what officers queued, beside a channel's own loop: replies and notifications.

    worker = DeliveryWorker(service, sender)        # sender: the channel's platform calls
    await run_beside(channel_loop(stop), worker, stop)

The worker claims a few deliveries at a time (`Core.claim_deliveries`,
in a thread: the service blocks), sends each through the channel's `Sender`,
then calls `delivered`: the row is deleted and, for a reply, the platform ids
of what was sent join the conversation's wipe trace (a later "delete" removes
the officer's reply from the chat too). It claims again at once after a batch
that delivered something, after `DeliveryTiming.interval` otherwise, and
earlier when the channel calls `wake` (a batch it recorded may have queued a
notification).

When a send fails (the `NotSent` hierarchy)::

    NotSent
    ├── Unavailable  the platform did not answer, or answered "later" (network,
    │                5xx, flood control outlasting the retries): stop the batch,
    │                give the unsent claims back (`release`), back off and probe
    │                the platform (`Sender.ready`) before claiming again. An
    │                outage costs the rows in hand one attempt, not one per poll.
    └── Refused      the platform said no to this delivery (Telegram: blocked,
                     chat not found; Matrix: not in the room, room not
                     encrypted or shared with others, forbidden). It stays
                     claimed: tried again once its claim lapses
                     (`intake.storage.deliveries.CLAIM_HOLD`), and after `MAX_ATTEMPTS`
                     claims it is no longer claimed. It is kept, sealed, in the
                     database (the reply itself is on the case either way) and
                     logged once as given up.

At least once, never silently lost: a crash between sending and `delivered`
sends that delivery again when its claim lapses. A database failure after a
send keeps the sent ids in memory and records them before claiming again (the
row is still claimed meanwhile, so it is not sent twice). Ids of the pieces of
a long Telegram reply that went out before a failure are kept for the retry,
which sends it whole again: the duplicates are in the trace, so a wipe
removes them all.

Logs carry the channel, the delivery kind and the attempt count: never the
text, a chat id or a room id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Protocol, TypeVar

from bots._backoff import Backoff, pause
from bots.core import Core
from intake.messages import PendingDelivery

log = logging.getLogger(__name__)

T = TypeVar("T")

# Claims of a delivery the platform keeps refusing before it is left alone:
# with claims lapsing after two minutes, about an hour of refusals.
MAX_ATTEMPTS = 30
# Ids kept for deliveries partly sent or sent but not yet recorded (bounded memory).
MAX_REMEMBERED = 1000


class NotSent(Exception):
    """A delivery was not (wholly) sent.

    Attributes:
        reason: a short phrase or an exception type, safe to log (no text, no ids).
        sent: platform ids of the pieces that did go out before the failure.
    """

    def __init__(self, reason: str, sent: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = list(sent)


class Unavailable(NotSent):
    """The platform is unreachable or overloaded: try later, once it answers again."""


class Refused(NotSent):
    """The platform refused this delivery: trying again at once cannot help."""


class Sender(Protocol):
    """A channel's platform calls for deliveries."""

    @property
    def channel(self) -> str: ...

    async def ready(self) -> bool:
        """Whether the platform answers now (a cheap call that changes nothing)."""
        ...

    async def send(self, delivery: PendingDelivery) -> list[str]:
        """Send one delivery; the trace ids of the messages sent.

        Raises:
            Unavailable, Refused.
        """
        ...


@dataclass(frozen=True)
class DeliveryTiming:
    """How often to look for deliveries, how many at once, how to back off (`Backoff`)."""

    interval: float = 3.0
    batch: int = 20
    base_backoff: float = 0.5
    max_backoff: float = 60.0
    # On stop, how long the delivery in hand may take to finish before it is cancelled.
    stop_grace: float = 5.0


class _Outcome(Enum):
    SENT = "sent"
    REFUSED = "refused"
    OUTAGE = "outage"  # the platform is unavailable
    STORAGE = "storage"  # the database failed
    IDLE = "idle"  # nothing sent this cycle


class DeliveryWorker:
    """Claims deliveries for one channel and sends them until stopped.

    Args:
        service: the conversation service (claims, records, releases).
        sender: the channel's platform calls.
        timing: polling and backoff.
        max_attempts: claims after which a refused delivery is left alone.
    """

    def __init__(
        self,
        service: Core,
        sender: Sender,
        timing: DeliveryTiming | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._service = service
        self._sender = sender
        self._timing = timing or DeliveryTiming()
        self._max_attempts = max_attempts
        self._backoff = Backoff(self._timing.base_backoff, self._timing.max_backoff)
        self._stop = asyncio.Event()
        self._halt = asyncio.Event()
        self._wake = asyncio.Event()
        # Delivery id -> ids of pieces sent before a failure (joined to the retry's).
        self._partial: dict[str, list[str]] = {}
        # Delivery id -> (delivery, ids): sent, but `delivered` failed.
        self._unrecorded: dict[str, tuple[PendingDelivery, list[str]]] = {}

    @property
    def channel(self) -> str:
        return self._sender.channel

    @property
    def stop_grace(self) -> float:
        return self._timing.stop_grace

    def wake(self) -> None:
        """Look for deliveries now rather than at the next interval."""
        self._wake.set()

    def halt(self) -> None:
        """Stop after the delivery in hand (the channel's loop ended)."""
        self._halt.set()

    @property
    def _stopping(self) -> bool:
        return self._stop.is_set() or self._halt.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set or `halt` is called; never raises for a failed send."""
        self._stop = stop
        if not await self._until_ready(0):
            return
        failures = 0
        while not self._stopping:
            outcome = await self._cycle()
            if outcome is _Outcome.OUTAGE:
                failures += 1
                if not await self._until_ready(failures):
                    return
            elif outcome is _Outcome.STORAGE:
                failures += 1
                await self._pause(self._backoff.delay(failures), wakeable=False)
            elif outcome is _Outcome.SENT:
                failures = 0  # more may be waiting: claim again at once
            else:
                failures = 0
                await self._pause(self._timing.interval, wakeable=True)

    # -- one cycle ------------------------------------------------------------

    async def _cycle(self) -> _Outcome:
        """Record what is pending, claim a batch, send it; what happened overall."""
        self._wake.clear()
        if not await self._record_pending():
            return _Outcome.STORAGE
        try:
            batch = await asyncio.to_thread(
                self._service.claim_deliveries,
                self.channel,
                self._timing.batch,
                self._max_attempts,
            )
        except Exception as exc:  # noqa: BLE001 - any storage failure: back off, the channel runs on
            log.warning(
                "deliveries not claimed (%s); retrying",
                type(exc).__name__,
                extra={"channel": self.channel},
            )
            return _Outcome.STORAGE
        sent = False
        for index, delivery in enumerate(batch):
            if self._stopping:
                await self._release(batch[index:])
                return _Outcome.IDLE
            outcome = await self._deliver(delivery)
            if outcome is _Outcome.OUTAGE:
                await self._release(batch[index:])
                return outcome
            if outcome is _Outcome.STORAGE:
                # Recorded later (`_record_pending`); the rest of the batch can wait.
                await self._release(batch[index + 1 :])
                return outcome
            sent |= outcome is _Outcome.SENT
        return _Outcome.SENT if sent else _Outcome.IDLE

    async def _deliver(self, delivery: PendingDelivery) -> _Outcome:
        if delivery.id in self._unrecorded:
            # Sent already: its claim lapsed before the database came back.
            return await self._record(delivery, self._unrecorded.pop(delivery.id)[1])
        extra = {"channel": self.channel, "kind": delivery.kind, "count": delivery.attempts}
        try:
            ids = await self._sender.send(delivery)
        except Unavailable as exc:
            self._remember_partial(delivery, exc.sent)
            log.warning("delivery postponed: platform unavailable (%s)", exc.reason, extra=extra)
            return _Outcome.OUTAGE
        except Refused as exc:
            self._remember_partial(delivery, exc.sent)
            self._refused(delivery, exc.reason)
            return _Outcome.REFUSED
        except Exception as exc:  # a bug: park this row rather than crash-loop the channel
            log.error(
                "delivery failed unexpectedly (%s)", type(exc).__name__, exc_info=True, extra=extra
            )
            self._refused(delivery, type(exc).__name__)
            return _Outcome.REFUSED
        return await self._record(delivery, self._partial.pop(delivery.id, []) + ids)

    def _refused(self, delivery: PendingDelivery, reason: str) -> None:
        extra = {"channel": self.channel, "kind": delivery.kind, "count": delivery.attempts}
        if delivery.attempts >= self._max_attempts:
            self._partial.pop(delivery.id, None)
            log.error(
                "delivery refused (%s) %d times: kept undelivered, no longer tried",
                reason,
                delivery.attempts,
                extra=extra,
            )
        else:
            log.warning(
                "delivery refused (%s); tried again when its claim lapses", reason, extra=extra
            )

    def _remember_partial(self, delivery: PendingDelivery, sent: Sequence[str]) -> None:
        if sent:
            self._partial.setdefault(delivery.id, []).extend(sent)
            _bound(self._partial)

    # -- recording --------------------------------------------------------------

    async def _record(self, delivery: PendingDelivery, ids: list[str]) -> _Outcome:
        """`delivered`; on failure keep the ids to record before the next claim."""
        # A notification goes to the officers' chat: nothing there to trace.
        trace = ids if delivery.kind == "reply" else []
        try:
            await asyncio.to_thread(self._service.delivered, delivery, trace)
        except Exception as exc:  # noqa: BLE001 - any storage failure: keep the ids, retry
            self._unrecorded[delivery.id] = (delivery, trace)
            _bound(self._unrecorded)
            log.warning(
                "delivery sent but not recorded yet (%s)",
                type(exc).__name__,
                extra={"channel": self.channel, "kind": delivery.kind},
            )
            return _Outcome.STORAGE
        log.info(
            "delivery sent",
            extra={"channel": self.channel, "kind": delivery.kind, "count": len(ids)},
        )
        return _Outcome.SENT

    async def _record_pending(self) -> bool:
        """Record deliveries sent while the database was failing; False if it still fails."""
        for delivery_id, (delivery, ids) in list(self._unrecorded.items()):
            try:
                await asyncio.to_thread(self._service.delivered, delivery, ids)
            except Exception:  # noqa: BLE001 - still failing: keep them, back off
                return False
            del self._unrecorded[delivery_id]
        return True

    async def _release(self, deliveries: Sequence[PendingDelivery]) -> None:
        """Give unsent claims back at once (else they lapse after the claim hold)."""
        if not deliveries:
            return
        try:
            await asyncio.to_thread(self._service.release, deliveries)
        except Exception as exc:  # noqa: BLE001 - harmless: the claims lapse by themselves
            log.info(
                "claims not released (%s); they lapse",
                type(exc).__name__,
                extra={"channel": self.channel, "count": len(deliveries)},
            )

    # -- waiting ------------------------------------------------------------------

    async def _until_ready(self, failures: int) -> bool:
        """Back off and probe the platform until it answers; False if stopped first."""
        attempt = failures
        while not self._stopping:
            if attempt:
                await self._pause(self._backoff.delay(attempt), wakeable=False)
                if self._stopping:
                    return False
            try:
                if await self._sender.ready():
                    return True
            except Exception as exc:  # noqa: BLE001 - a probe that breaks is a "not yet"
                log.info(
                    "platform probe failed (%s)",
                    type(exc).__name__,
                    extra={"channel": self.channel},
                )
            attempt += 1
        return False

    async def _pause(self, seconds: float, *, wakeable: bool) -> None:
        await pause(seconds, self._stop, self._halt, *([self._wake] if wakeable else []))


def _bound(remembered: dict[str, T]) -> None:
    """Forget the oldest entries beyond `MAX_REMEMBERED` (a delivery sent twice, at worst)."""
    while len(remembered) > MAX_REMEMBERED:
        del remembered[next(iter(remembered))]


async def run_beside(main: Awaitable[None], worker: DeliveryWorker, stop: asyncio.Event) -> None:
    """Run a channel's loop with its delivery worker beside it; the worker ends with the loop.

    Raises:
        whatever `main` raises (the worker is stopped first).
    """
    task = asyncio.create_task(worker.run(stop), name=f"{worker.channel}-deliveries")
    task.add_done_callback(partial(_report_failure, worker.channel))
    try:
        await main
    finally:
        worker.halt()
        done, _ = await asyncio.wait({task}, timeout=worker.stop_grace)
        if not done:
            # A send still in flight: cancelled, its claim lapses and it is sent again.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _report_failure(channel: str, task: asyncio.Task[None]) -> None:
    """A worker that died of a bug says so at once (the channel's intake goes on)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error(
            "the delivery worker stopped (%s): replies and notifications wait",
            type(error).__name__,
            exc_info=error,
            extra={"channel": channel},
        )
