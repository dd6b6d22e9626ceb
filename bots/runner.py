"""Running several channels in one process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Channel(Protocol):
    """A channel adapter that runs until `stop` is set, then returns cleanly."""

    name: str

    async def run(self, stop: asyncio.Event) -> None: ...


async def run_channels(channels: Sequence[Channel]) -> None:
    """Run every channel; stop them all on a signal or when one of them fails."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(channel.run(stop), name=channel.name) for channel in channels]
    log.info("channels started", extra={"count": len(tasks)})
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                log.error("channel %s failed; stopping the others", task.get_name())
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
