"""The per-address bucket of sign-in attempts, on a clock the test moves (no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intake.triage.throttle import AttemptLimiter, Throttled, address_key
from tests.support.setup import Clock


def _limiter(clock: Clock, attempts: int = 3, refill: int = 30, most: int = 100) -> AttemptLimiter:
    return AttemptLimiter(attempts, timedelta(seconds=refill), clock, max_addresses=most)


def test_a_burst_then_one_per_refill() -> None:
    clock = Clock()
    limiter = _limiter(clock)
    assert [limiter.take("192.0.2.1") for _ in range(3)] == [None] * 3
    first = limiter.take("192.0.2.1")
    assert first == Throttled("192.0.2.1", 30, first=True)
    clock.advance(seconds=10)
    # Still dry: the episode was recorded once, the wait shrinks.
    assert limiter.take("192.0.2.1") == Throttled("192.0.2.1", 20, first=False)
    clock.advance(seconds=20)
    assert limiter.take("192.0.2.1") is None
    assert limiter.take("192.0.2.1") == Throttled("192.0.2.1", 30, first=True)  # a new episode
    # Refused attempts take nothing: a flood does not push the wait further.
    for _ in range(50):
        limiter.take("192.0.2.1")
    clock.advance(seconds=30)
    assert limiter.take("192.0.2.1") is None


def test_addresses_are_apart_and_a_host_is_its_ipv6_slash_64() -> None:
    limiter = _limiter(Clock(), attempts=1)
    assert limiter.take("2001:db8:1:2::1") is None
    refused = limiter.take("2001:db8:1:2:ffff:ffff:ffff:9")  # the same /64: the same host
    assert refused is not None and refused.address == "2001:db8:1:2::/64"
    assert limiter.take("2001:db8:1:3::1") is None
    assert limiter.take("192.0.2.1") is None and limiter.take("192.0.2.2") is None
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"  # a dual-stack socket's IPv4 peer
    assert address_key("testclient") == "testclient"


def test_full_buckets_are_forgotten_and_the_table_is_capped() -> None:
    clock = Clock()
    limiter = _limiter(clock, attempts=2, refill=30, most=3)
    for n in range(3):
        limiter.take(f"192.0.2.{n}")
    assert limiter.tracked == 3
    limiter.take("192.0.2.9")  # a fourth: the least recently used goes
    assert limiter.tracked == 3
    # Idle long enough to be full again (2 x 30 s): forgotten at the next attempt.
    clock.advance(seconds=60)
    limiter.take("198.51.100.1")
    assert limiter.tracked == 1
    # A flood from many addresses keeps the table at its cap.
    for n in range(1000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert limiter.tracked == 3


def test_only_a_full_bucket_is_forgotten() -> None:
    clock = Clock()
    limiter = _limiter(clock, attempts=2, refill=30)
    limiter.take("192.0.2.1"), limiter.take("192.0.2.1")
    clock.advance(seconds=59)  # not quite full again: kept
    limiter.take("198.51.100.1")
    assert limiter.tracked == 2
    assert limiter.take("192.0.2.1") is None
    assert limiter.take("192.0.2.1") is not None  # 1.97 attempts were back, not 2


def test_a_clock_going_back_counts_as_no_time() -> None:
    clock = Clock()
    limiter = _limiter(clock, attempts=1)
    assert limiter.take("192.0.2.1") is None
    clock.advance(seconds=-3600)
    assert limiter.take("192.0.2.1") is not None
    clock.advance(seconds=3600 + 30)
    assert limiter.take("192.0.2.1") is None


def test_the_message_says_minutes() -> None:
    assert "try again in 1 minute." in Throttled("192.0.2.1", 30, True).message
    assert "try again in 3 minutes." in Throttled("192.0.2.1", 150, True).message
    refusal = Throttled("192.0.2.1", 150, True).refusal()
    assert refusal.retry_after == 150


def test_impossible_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="attempts >= 1"):
        AttemptLimiter(0, timedelta(seconds=30), Clock())
    with pytest.raises(ValueError, match="refill > 0"):
        AttemptLimiter(20, timedelta(0), Clock())
