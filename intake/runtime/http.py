"""`/healthz`, `/readyz` and `/metrics`, served by `serve` in its own event loop.

    server = StatusServer("127.0.0.1", 9100, health, sessions, [service.metrics, counter])
    await server.start()
    ...
    await server.stop()

- `/healthz`: 200 while the process's event loop answers (liveness).
- `/readyz`: 200 when the database answers `SELECT 1` and every channel
  runs with its lease held, else 503; a JSON body names the states,
  `unreadable_cases` the missions holding cases no active officer can open,
  and `unreadable_inbox_messages` the channels holding kept messages set aside
  because they did not open.
- `/metrics`: Prometheus text: the service's counters, the channels'
  states, and what the database says (`intake.runtime.gauges`).

Nothing here reads content or identities. The address is loopback unless
the operator allowed otherwise (`intake.config.HttpSettings`). Database work
runs in a thread with a time limit, so a hung database cannot hang a probe.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake.runtime.gauges import database_families
from intake.runtime.health import Health
from intake.runtime.metrics import CONTENT_TYPE, Family, family, labels, render

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # seconds a probe waits for the database


T = TypeVar("T")


class Counters(Protocol):
    def families(self) -> list[Family]: ...


class StatusServer:
    """The HTTP endpoints of one `serve` process.

    Args:
        host, port: where to listen (port 0: any free port, see `port`).
        health: the channels' states and the database probe.
        sessions: opens database sessions for the gauges.
        counters: in-memory counters (service metrics, log counter).
        clock: returns the current aware UTC time.
    """

    def __init__(
        self,
        host: str,
        port: int,
        health: Health,
        sessions: sessionmaker[Session],
        counters: Sequence[Counters],
        clock: Callable[[], datetime],
    ) -> None:
        self._host, self._port = host, port
        self._health = health
        self._sessions = sessions
        self._counters = counters
        self._clock = clock
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self._site: web.TCPSite | None = None

    async def start(self) -> None:
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()
        log.info("health and metrics listening", extra={"count": self.port})

    async def stop(self) -> None:
        await self._runner.cleanup()

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        for address in self._runner.addresses:
            return int(address[1])
        return self._port

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        database = await self._in_thread(self._health.database_answers, False)
        no_problems: list[str] = []  # a probe that times out says nothing of the keys
        untrusted = await self._in_thread(self._health.untrusted_keys, no_problems)
        unreadable: dict[str, int] = {}
        unreadable_inbox: dict[str, int] = {}
        if database:
            unreadable = await self._in_thread(self._health.unreadable_cases, unreadable)
            unreadable_inbox = await self._in_thread(
                self._health.unreadable_inbox, unreadable_inbox
            )
        ready, details = self._health.report(database, untrusted, unreadable, unreadable_inbox)
        return web.Response(
            text=json.dumps(details, sort_keys=True) + "\n",
            status=200 if ready else 503,
            content_type="application/json",
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        families: list[Family] = []
        for counters in self._counters:
            families.extend(counters.families())
        families.extend(self._health.families())
        from_database = await self._in_thread(self._database_families, None)
        answered = {labels(): float(from_database is not None)}
        families.append(
            family("database_up", "gauge", "1 if the database answered this scrape.", answered)
        )
        families.extend(from_database or [])
        return web.Response(
            body=render(families).encode("utf-8"), headers={"Content-Type": CONTENT_TYPE}
        )

    def _database_families(self) -> list[Family] | None:
        try:
            with self._sessions() as session:
                return database_families(session, self._clock())
        except SQLAlchemyError:
            log.warning("metrics: the database did not answer")
            return None

    @staticmethod
    async def _in_thread(work: Callable[[], T], fallback: T) -> T:
        try:
            return await asyncio.wait_for(asyncio.to_thread(work), timeout=PROBE_TIMEOUT)
        except TimeoutError:
            return fallback
