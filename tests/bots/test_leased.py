"""A channel runs only while its process holds the lease (bots.leased), on real databases.

The channels here are trivial ones that record when they run: what is under
test is the wrapper, whichever channel it wraps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bots.leased import LeasedChannel
from bots.runner import Channel
from intake.core import desks
from intake.runtime.health import ChannelState, ChannelStatus
from intake.storage.leases import Leases, current
from intake.storage.models import Lease
from tests.support.databases import through_port
from tests.support.setup import Setup
from tests.support.tcp_proxy import TcpProxy

LEASE = "telegram:test"


class Recorder:
    """A channel that runs until stopped, noting each run's start and end (wall clock)."""

    name = "fake"

    def __init__(self, runs: list[list[datetime]], fail: bool = False) -> None:
        self._runs = runs
        self._fail = fail

    async def run(self, stop: asyncio.Event) -> None:
        run = [datetime.now(UTC)]
        self._runs.append(run)
        try:
            if self._fail:
                raise RuntimeError("the channel broke")
            await stop.wait()
        finally:
            run.append(datetime.now(UTC))


def factory(runs: list[list[datetime]], fail: bool = False) -> Callable[[], Channel]:
    return lambda: Recorder(runs, fail)


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def leases_for(setup: Setup, holder: str, ttl: float) -> Leases:
    return Leases(setup.sessions, holder, timedelta(seconds=ttl), desks.utcnow)


def test_only_the_holder_runs_and_a_clean_stop_hands_over_at_once(setup: Setup) -> None:
    async def scenario() -> None:
        # Given two processes' channels on one account (a long TTL: no expiry helps here),
        runs_a: list[list[datetime]] = []
        runs_b: list[list[datetime]] = []
        status_a, status_b = ChannelStatus("fake"), ChannelStatus("fake")
        a = LeasedChannel("fake", LEASE, factory(runs_a), leases_for(setup, "a", 60), status_a)
        b = LeasedChannel("fake", LEASE, factory(runs_b), leases_for(setup, "b", 60), status_b)
        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        task_a = asyncio.create_task(a.run(stop_a))
        await until(lambda: status_a.ready, 10, "a running")
        task_b = asyncio.create_task(b.run(stop_b))
        await until(lambda: status_b.state is ChannelState.STANDBY, 10, "b standing by")
        # only the holder runs;
        assert len(runs_a) == 1 and runs_b == [] and not status_b.lease_held
        # when the holder stops cleanly, it releases and the standby takes over (no TTL wait).
        stop_a.set()
        await task_a
        assert status_a.state is ChannelState.STOPPED and len(runs_a[0]) == 2
        await until(lambda: status_b.ready, 30, "b running")
        assert status_b.generation == 2
        stop_b.set()
        await task_b

    asyncio.run(scenario())


def test_a_lease_taken_away_stops_the_channel_and_it_stands_by(setup: Setup) -> None:
    async def scenario() -> None:
        runs: list[list[datetime]] = []
        status = ChannelStatus("fake")
        channel = LeasedChannel("fake", LEASE, factory(runs), leases_for(setup, "a", 3), status)
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop))
        await until(lambda: status.ready, 10, "running")
        # When another process holds the lease (an operator moved it, or a clock jumped),
        with setup.sessions.begin() as session:
            session.execute(
                update(Lease)
                .where(Lease.name == LEASE)
                .values(
                    holder="thief",
                    generation=Lease.generation + 1,
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )
            )
        # the next renewal finds out and the channel stops,
        await until(lambda: status.state is ChannelState.STANDBY, 10, "standing by")
        assert len(runs) == 1 and len(runs[0]) == 2
        # and once that lease is released, it runs again.
        with setup.sessions.begin() as session:
            session.execute(update(Lease).where(Lease.name == LEASE).values(holder=None))
        # (ready is set as the wrapper starts the channel's task, a moment before it runs)
        await until(lambda: status.ready and len(runs) == 2, 10, "running again")
        assert status.generation == 3
        stop.set()
        await task

    asyncio.run(scenario())


def test_a_failing_channel_releases_its_lease_and_fails_the_runner(setup: Setup) -> None:
    async def scenario() -> None:
        runs: list[list[datetime]] = []
        status = ChannelStatus("fake")
        leases = leases_for(setup, "a", 60)
        channel = LeasedChannel("fake", LEASE, factory(runs, fail=True), leases, status)
        with pytest.raises(RuntimeError, match="broke"):
            await channel.run(asyncio.Event())
        assert status.state is ChannelState.FAILED
        with setup.sessions() as session:
            lease = current(session, LEASE)
            assert lease is not None and lease.holder is None  # another process may take it

    asyncio.run(scenario())


@pytest.mark.slow
def test_unreachable_database_stops_the_channel_before_its_lease_expires(
    postgres_setup: Setup,
) -> None:
    setup = postgres_setup
    ttl = 6.0

    async def scenario(proxy: TcpProxy) -> None:
        # Given a channel whose process reaches the database through a proxy,
        settings = setup.settings.model_copy(
            update={"database_url": through_port(setup.settings.database_url, proxy.port)}
        )
        engine, sessions = desks.open_database(settings)
        leases = Leases(sessions, "a", timedelta(seconds=ttl), desks.utcnow)
        runs: list[list[datetime]] = []
        status = ChannelStatus("fake")
        channel = LeasedChannel("fake", LEASE, factory(runs), leases, status)
        stop = asyncio.Event()
        task = asyncio.create_task(channel.run(stop))
        # (ready is set as the wrapper starts the channel's task, a moment before it runs)
        await until(lambda: status.ready and len(runs) == 1, 10, "running")
        # when the database cannot be reached,
        proxy.pause()
        # the channel stops on its own, before its lease expires (another process could
        # take it over from then on),
        await until(lambda: len(runs[0]) == 2, ttl + 5, "the channel stopped")
        with setup.sessions() as session:
            lease = current(session, LEASE)
            assert lease is not None and lease.holder == "a"
            assert runs[0][1] < lease.expires_at
        assert status.state is ChannelState.STANDBY
        # and once the database is back, it takes its lease again and runs.
        proxy.resume()
        await until(lambda: status.ready, ttl + 10, "running again")
        assert len(runs) == 2 and status.generation == 1
        stop.set()
        await task
        engine.dispose()

    with TcpProxy(5432) as proxy:
        asyncio.run(scenario(proxy))
