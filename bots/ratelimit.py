"""Per-sender rate limit: a token bucket, with one notice per episode.

Shared by the platform channels (Telegram's batches, Signal's pipeline); each
decides what a denied message means on its platform. Pure logic with an
injected clock; state lives in memory only (it is lost on restart, which only
makes the limit more lenient for a moment), keyed by whatever the channel
names senders by: the key is never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    DENY_NOTIFY = "deny_notify"  # over the limit: drop it and tell the sender (first time)
    DENY_QUIET = "deny_quiet"  # over the limit, already told


@dataclass
class _Bucket:
    tokens: float
    updated: float
    notified: bool = False


class RateLimiter:
    """`burst` messages at once, then `per_minute` a minute, per sender.

    A sender over the limit is told once; after that their messages are
    dropped silently until the bucket lets one through again.

    Args:
        burst: bucket size (messages accepted back to back).
        per_minute: refill rate.
        clock: wall-clock seconds (Unix time, like Telegram's message dates and
            Signal's server timestamps), for messages without a platform time.
        max_senders: above this many tracked senders, idle (full) buckets are forgotten.
    """

    def __init__(
        self,
        burst: int = 10,
        per_minute: float = 30.0,
        clock: Callable[[], float] = time.time,
        max_senders: int = 10_000,
    ) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("a rate limit needs burst >= 1 and per_minute > 0")
        self._burst = float(burst)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_senders = max_senders
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, sender: str, sent_at: float | None = None) -> Verdict:
        """Whether this message of `sender` goes through.

        `sent_at` is when the platform's server received it, if known (Unix
        seconds; never a time the sender chose, which a flood could forge):
        messages that waited for us (the service was down, or restarting) are
        counted at the pace they were written, not the pace they reach us, so
        a defender's backlog is never mistaken for a flood. A time that goes
        backwards counts as no time.
        """
        now = self._clock() if sent_at is None else sent_at
        bucket = self._buckets.get(sender)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[sender] = _Bucket(self._burst, now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(self._burst, bucket.tokens + elapsed * self._rate)
        bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.notified = False
            return Verdict.ALLOW
        if bucket.notified:
            return Verdict.DENY_QUIET
        bucket.notified = True
        return Verdict.DENY_NOTIFY

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < self._max_senders:
            return
        full = [
            sender
            for sender, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self._rate >= self._burst
        ]
        for sender in full:
            del self._buckets[sender]

    @property
    def tracked(self) -> int:
        """How many are remembered (not `__len__`: an empty one would be falsy)."""
        return len(self._buckets)
