"""A channel running in a thread of its own with its own event loop, as `serve` runs it."""

from __future__ import annotations

import asyncio
import threading
from typing import Generic, Protocol, TypeVar


class _Runs(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


ChannelT = TypeVar("ChannelT", bound=_Runs)


class ChannelThread(Generic[ChannelT]):
    """Runs `channel.run(stop)` until `stop()`; an error it ends with is raised by `stop()`."""

    def __init__(self, channel: ChannelT, name: str) -> None:
        self.channel = channel
        self.faults: list[str | None] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await self.channel.run(self._stop)

        try:
            asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 - re-raised by stop(), in the test's thread
            self.error = exc
            self._ready.set()

    def start(self) -> ChannelThread[ChannelT]:
        self._thread.start()
        assert self._ready.wait(10), "the channel did not start"
        return self

    def stop(self, timeout: float = 20.0) -> None:
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the channel did not stop"
        if self.error is not None:
            raise self.error
