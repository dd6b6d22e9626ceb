"""How long to wait before trying again, and waiting that a stop cuts short.

Shared by the delivery worker (`bots.deliveries`) and the Telegram retries
(`bots.telegram.retry`, whose `Backoff` adds Telegram's own "retry after").

`Backoff.delay(n)` is exponential with "equal jitter": attempt n waits
between half of and all of min(cap, base * 2**n). Half is fixed, so nobody
retries at once; half is random, so many clients failing together do not
retry together.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "pause"]


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits about base * 2**n, at most `cap`."""

    base: float = 0.5
    cap: float = 30.0
    # Jitter spreads retries; it is not a secret.
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try `attempt` + 1 (attempt 0-based)."""
        ceiling = min(self.cap, self.base * float(2 ** min(attempt, 30)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


async def pause(seconds: float, *events: asyncio.Event) -> None:
    """Wait `seconds`, or less if one of `events` is set first."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
