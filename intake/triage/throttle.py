"""Sign-in attempts per client address: a token bucket each, in this process's memory.

Why: the lockout of `intake.triage.logins` counts per officer id, so whoever
sprays passphrases over many ids (or made-up ones) from one address is never
slowed, and each try at a real id costs an Argon2id run (~150 ms of a core).
Here every sign-in attempt (passphrase, second factor, enrolment step) takes a
token from its address's bucket: `attempts` at once, then one back every
`refill`. The console asks before it reads the form, so a refused attempt costs
no key derivation, no query and no write.

What is kept, in memory only: per address (an IPv6 address per /64, what one
host is usually given, or rotating through a /64 would be a fresh address each
time), the tokens left and when they were counted. Never an officer id, never
anything typed: the limit does not look at the form. A bucket that has filled
up again is forgotten (a new one would be the same), and at most
`max_addresses` are kept, the least recently used going first, so a flood from
many addresses cannot grow the table. A restart forgets every bucket, which
only makes the limit lenient for a moment; each process counts its own.

What is recorded: the first refusal of an episode (an address that ran dry) is
audited as `web.throttled` by `service`, with the address as subject and no
officer id (none was read), and logged as a warning (counted by
`hrd_intake_log_records` under `serve`). The refusals after it, until a token
comes back, are answered but not recorded: a flood cannot fill the audit log.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv6Address, IPv6Network, ip_address

from sqlalchemy.orm import Session, sessionmaker

from intake.errors import LoginRefused
from intake.storage.audit import AuditTrail

__all__ = ["MAX_ADDRESSES", "AttemptLimiter", "SignInThrottle", "Throttled", "address_key"]

log = logging.getLogger(__name__)
MAX_ADDRESSES = 10_000


def address_key(address: str) -> str:
    """The bucket an address counts against: itself, or its /64 for IPv6.

    Anything that is not an IP address (a Unix socket's peer, a test client's
    name) is its own key.
    """
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if isinstance(parsed, IPv6Address):
        return str(IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Throttled:
    """An attempt refused: whose bucket, when the next one is accepted, whether to record it."""

    address: str
    retry_after: int  # seconds
    first: bool  # the first refusal since the bucket ran dry: audit and log it

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many sign-in attempts from this address; try again in {minutes} {unit}."

    def refusal(self) -> LoginRefused:
        return LoginRefused(self.message, retry_after=self.retry_after)


@dataclass
class _Bucket:
    tokens: float
    counted: datetime
    dry: bool = False  # refused since the last accepted attempt


class AttemptLimiter:
    """`attempts` at once per address, then one every `refill`; pure, on an injected clock.

    Args:
        attempts: bucket size (attempts accepted back to back).
        refill: time for one attempt to come back.
        clock: the current time (the desks' clock).
        max_addresses: buckets kept at most; the least recently used are dropped.
    """

    def __init__(
        self,
        attempts: int,
        refill: timedelta,
        clock: Callable[[], datetime],
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        if attempts < 1 or refill <= timedelta(0) or max_addresses < 1:
            raise ValueError("a sign-in limit needs attempts >= 1, refill > 0, max_addresses >= 1")
        self.attempts = attempts
        self.refill = refill
        self._clock = clock
        self._max = max_addresses
        # Least recently counted first: the idle ones are at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, address: str) -> Throttled | None:
        """Take one attempt from `address`'s bucket: None if there was one, else the refusal.

        A clock that goes backwards counts as no time passing.
        """
        key = address_key(address)
        now = self._clock()
        per_token = self.refill.total_seconds()
        with self._lock:
            self._forget_full(now)
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.attempts), now)
            elapsed = max(0.0, (now - bucket.counted).total_seconds())
            bucket.tokens = min(float(self.attempts), bucket.tokens + elapsed / per_token)
            bucket.counted = max(bucket.counted, now)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                bucket.dry = False
                return None
            first, bucket.dry = not bucket.dry, True
            # Rounded first: 20.000000000000004 s is 20 s, not 21.
            wait = round((1.0 - bucket.tokens) * per_token, 3)
        return Throttled(key, max(1, math.ceil(wait)), first)

    def _forget_full(self, now: datetime) -> None:
        """Drop the buckets idle long enough to be full again (the front of the order)."""
        full_after = self.refill * self.attempts
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.counted < full_after:
                return
            del self._buckets[key]

    @property
    def tracked(self) -> int:
        """How many are remembered (not `__len__`: an empty one would be falsy)."""
        return len(self._buckets)


class SignInThrottle:
    """The console's per-address limit: ask `admit` first, `record` a first refusal.

    `admit` is memory only (answer it on the event loop, before anything else);
    `record` writes the audit entry (a transaction: run it off the loop).
    """

    def __init__(
        self,
        limiter: AttemptLimiter,
        sessions: sessionmaker[Session],
        trail: AuditTrail,
        clock: Callable[[], datetime],
    ) -> None:
        self.limiter = limiter
        self._sessions = sessions
        self._trail = trail
        self._clock = clock

    def admit(self, address: str) -> Throttled | None:
        """One sign-in attempt from `address`: None to go on, else the refusal to answer."""
        return self.limiter.take(address)

    def record(self, throttled: Throttled) -> None:
        """Audit and log an address that ran out of attempts (its episode's first refusal)."""
        with self._sessions.begin() as session:
            self._trail.append(
                session,
                self._clock(),
                "service",
                "web.throttled",
                throttled.address,
                attempts=self.limiter.attempts,
                refill_seconds=int(self.limiter.refill.total_seconds()),
                retry_after=throttled.retry_after,
            )
        self._trail.synced()
        log.warning(
            "sign-in attempts from one address over the limit: refused until one comes back "
            "(audited as web.throttled)"
        )
