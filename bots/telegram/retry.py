"""Retrying Bot API calls: bounded for sends, endless (with backoff) for polling.

python-telegram-bot raises, for a failed call::

    TelegramError
    ├── RetryAfter     429 flood control: wait `retry_after`, then repeat (nothing was done)
    ├── NetworkError   5xx, connection failures: back off and repeat
    │   ├── TimedOut   no answer in time (the call may have taken effect)
    │   └── BadRequest 400: repeating cannot help (a NetworkError subclass: catch it first)
    ├── Forbidden      403: the user blocked the bot; repeating cannot help
    ├── InvalidToken   401/404: the token or the API URL is wrong; fatal
    └── Conflict       409: another poller or a webhook is active; back off

`call` retries what may succeed later (RetryAfter, NetworkError, Conflict)
a bounded number of times and re-raises the rest at once.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bots import _backoff

log = logging.getLogger("bots.telegram.channel")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


def retry_after_seconds(exc: RetryAfter) -> float:
    """Telegram's wait, whether PTB gives it as int or timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)


def retriable(exc: BaseException) -> bool:
    """Whether repeating the call may help."""
    if isinstance(exc, BadRequest):
        return False
    return isinstance(exc, RetryAfter | NetworkError | Conflict)


@dataclass
class Backoff(_backoff.Backoff):
    """The bots' backoff (`bots._backoff`: exponential, equal jitter, at most `cap`),
    and Telegram's own wait when it says how long (429 flood control)."""

    def wait_for(self, exc: BaseException, attempt: int) -> float:
        """How long to wait after `exc` on attempt `attempt` (0-based)."""
        if isinstance(exc, RetryAfter):
            # Telegram says when; a little jitter spreads the senders it throttled.
            return retry_after_seconds(exc) + self.rng.uniform(0, 0.25)
        return self.delay(attempt)


async def call(
    op: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    backoff: Backoff,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Run `op`, retrying retriable failures up to `attempts` tries in all.

    Args:
        op: makes a fresh call each time it is invoked.
        what: the Bot API method, for the log (never parameters: they hold text and ids).
        attempts: tries in all, at least 1.
        backoff: the delays between tries.
        sleep: awaits a delay (tests pass a fake).

    Raises:
        TelegramError: the last failure, when it is not retriable or tries ran out.
    """
    for attempt in range(attempts):
        try:
            return await op()
        except TelegramError as exc:
            if not retriable(exc) or attempt == attempts - 1:
                raise
            delay = backoff.wait_for(exc, attempt)
            log.info(
                "telegram %s failed (%s); retrying in %.1fs",
                what,
                type(exc).__name__,
                delay,
                extra={"channel": "telegram", "count": attempt + 1},
            )
            await sleep(delay)
    raise AssertionError("unreachable: attempts must be at least 1")
