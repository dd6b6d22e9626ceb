"""Running a channel only while this process holds its lease.

    channel = LeasedChannel("telegram", telegram_lease_name(token),
                            lambda: build_telegram(settings, service), leases, status)
    await run_channels([channel])

Several `serve` processes may share a database; each channel account is
consumed by one of them at a time (`intake.storage.leases`). The others stand by:
they try to take the lease when the holder's expires, so a killed holder is
replaced about one lease TTL after its last renewal.

The holder renews every third of the TTL. When a renewal answers that the
lease is no longer ours, the channel is stopped at once; when the database
does not answer, the channel keeps running until a fifth of the TTL before
the lease would expire (by this process's clock), then stops, because
another process may take the lease over from then on. Either way this
process goes back to standing by. A clean stop releases the lease so a
standby takes over at once.

Stopping a channel is prompt but not instantaneous (a batch in hand finishes
recording), so two processes may overlap by a moment after a takeover; the
core's processed-message table makes that harmless: a message is recorded
once whichever process sees it. The lease keeps consumers from fighting;
the core keeps the data exact.

The channels need not know: each term of holding builds a fresh channel
from the factory and stops it through the `stop` event every channel obeys.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from enum import Enum

from bots.runner import Channel
from intake.errors import LeaseUnavailable
from intake.runtime.health import ChannelState, ChannelStatus
from intake.storage.leases import Leases, LeaseView

log = logging.getLogger(__name__)

# A standby asks at least this often (seconds), to notice a release at once.
STANDBY_POLL = 2.0


class _End(Enum):
    STOPPED = "stopped"  # the process is stopping
    LOST = "lost"  # another process holds the lease now
    EXPIRED = "expired"  # not renewed in time (database unreachable)
    FINISHED = "finished"  # the channel returned by itself


class LeasedChannel:
    """A channel run under a lease (itself a `bots.runner.Channel`).

    Args:
        name: the channel's name ("telegram", "matrix").
        lease: the lease name (`intake.storage.leases.telegram_lease_name`...).
        factory: builds the channel for one term of holding the lease.
        leases: this process's leases.
        status: where probes read the channel's state.
    """

    def __init__(
        self,
        name: str,
        lease: str,
        factory: Callable[[], Channel],
        leases: Leases,
        status: ChannelStatus | None = None,
    ) -> None:
        self.name = name
        self._lease = lease
        self._factory = factory
        self._leases = leases
        self._status = status or ChannelStatus(name)
        ttl = leases.ttl.total_seconds()
        self._ttl = ttl
        self._renew_every = ttl / 3
        self._margin = ttl / 5
        self._standby_poll = min(self._renew_every, STANDBY_POLL)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                held = await self._wait_for_lease(stop)
                if held is None:
                    return
                view, taken_at = held
                if await self._hold(stop, view, taken_at) is _End.FINISHED:
                    return
        finally:
            if self._status.state is not ChannelState.FAILED:
                self._status.set(ChannelState.STOPPED, lease_held=False)

    # -- standing by -------------------------------------------------------------

    async def _wait_for_lease(self, stop: asyncio.Event) -> tuple[LeaseView, float] | None:
        """Try until the lease is ours: (the lease, monotonic time of the try); None if stopped."""
        standing_by = False
        failures = 0
        while not stop.is_set():
            tried_at = time.monotonic()
            try:
                view = await asyncio.to_thread(self._leases.acquire, self._lease)
            except LeaseUnavailable:
                # Safe to repeat: one conditional statement; bounded backoff, logged.
                failures += 1
                log.warning(
                    "lease not acquired: database unavailable",
                    extra={"channel": self.name, "count": failures},
                )
                await _sleep_or_stop(stop, min(self._renew_every, 0.5 * 2 ** min(failures, 6)))
                continue
            failures = 0
            if view.holder == self._leases.holder:
                return view, tried_at
            if not standing_by:
                standing_by = True
                self._status.set(ChannelState.STANDBY, lease_held=False)
                log.info(
                    "channel held by another process; standing by", extra={"channel": self.name}
                )
            # Wake just after the holder's lease expires (its clock, ours: NTP), or
            # sooner to notice a release; a little jitter spreads the standbys.
            left = (view.expires_at - self._leases.now()).total_seconds()
            jitter = random.uniform(0.05, 0.25)  # noqa: S311 - spreading, not security
            await _sleep_or_stop(stop, max(0.05, min(self._standby_poll, left + jitter)))
        return None

    # -- holding -----------------------------------------------------------------

    async def _hold(self, stop: asyncio.Event, view: LeaseView, taken_at: float) -> _End:
        self._status.set(ChannelState.RUNNING, lease_held=True, generation=view.generation)
        log.info(
            "lease acquired (generation %d); channel starting",
            view.generation,
            extra={"channel": self.name},
        )
        try:
            channel = self._factory()
        except Exception:
            self._status.set(ChannelState.FAILED, lease_held=False)
            await self._release()
            raise
        term = asyncio.Event()
        task = asyncio.create_task(channel.run(term), name=f"{self.name}-channel")
        keeper = asyncio.create_task(self._keep(term, taken_at), name=f"{self.name}-lease")
        stopping = asyncio.create_task(stop.wait())
        end = _End.FINISHED
        try:
            done, _ = await asyncio.wait(
                {task, keeper, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            if keeper in done:
                end = keeper.result()
            elif stopping in done:
                end = _End.STOPPED
        finally:
            term.set()
            keeper.cancel()
            stopping.cancel()
            try:
                await task
            except BaseException:
                self._status.set(ChannelState.FAILED, lease_held=False)
                await self._release()
                raise
        if end in (_End.LOST, _End.EXPIRED):
            self._status.set(ChannelState.STANDBY, lease_held=False)
            log.warning(
                "lease %s: channel stopped; standing by", end.value, extra={"channel": self.name}
            )
        else:
            self._status.set(ChannelState.STOPPED, lease_held=False)
            await self._release()
            log.info("channel stopped; lease released", extra={"channel": self.name})
        return end

    async def _keep(self, term: asyncio.Event, taken_at: float) -> _End:
        """Renew until the lease is lost or cannot be renewed before its deadline."""
        deadline = taken_at + self._ttl - self._margin
        while True:
            wait = max(0.0, min(self._renew_every, deadline - time.monotonic()))
            try:
                await asyncio.wait_for(term.wait(), timeout=wait)
                return _End.STOPPED
            except TimeoutError:
                pass
            started = time.monotonic()
            try:
                renewed = await asyncio.wait_for(
                    asyncio.to_thread(self._leases.renew, self._lease),
                    timeout=max(0.1, deadline - started),
                )
            except (LeaseUnavailable, TimeoutError):
                # Safe to repeat (one conditional UPDATE); bounded by the deadline.
                log.warning("lease not renewed: database unavailable", extra={"channel": self.name})
            else:
                if not renewed:
                    return _End.LOST
                deadline = started + self._ttl - self._margin
            if time.monotonic() >= deadline:
                return _End.EXPIRED

    async def _release(self) -> None:
        try:
            await asyncio.to_thread(self._leases.release, self._lease)
        except LeaseUnavailable:
            log.warning(
                "lease not released (database unavailable); it expires by itself",
                extra={"channel": self.name},
            )


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
