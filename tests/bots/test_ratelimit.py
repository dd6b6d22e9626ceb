"""The per-sender rate limit both platform channels use (`bots.ratelimit`): pure, clock injected."""

from __future__ import annotations

import pytest

from bots.ratelimit import RateLimiter, Verdict


def test_rate_limit_bursts_then_refills_and_tells_once() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=3, per_minute=60, clock=lambda: now[0])
    assert [limiter.admit("a") for _ in range(3)] == [Verdict.ALLOW] * 3
    assert limiter.admit("a") is Verdict.DENY_NOTIFY
    assert limiter.admit("a") is Verdict.DENY_QUIET
    assert limiter.admit("b") is Verdict.ALLOW  # per sender
    now[0] += 1.0  # one token back
    assert limiter.admit("a") is Verdict.ALLOW
    assert limiter.admit("a") is Verdict.DENY_NOTIFY  # a new episode, told again


def test_rate_limit_counts_a_backlog_at_the_pace_it_was_written() -> None:
    # After our own outage, 14 messages a defender wrote 2 s apart arrive at once:
    # counted by when Telegram received them, none is a flood.
    arrival = [10_000.0]
    limiter = RateLimiter(burst=10, per_minute=30, clock=lambda: arrival[0])
    written = [9_000.0 + 2 * i for i in range(14)]
    assert [limiter.admit("a", at) for at in written] == [Verdict.ALLOW] * 14
    # A real flood (all in the same second) is still cut at the burst,
    flood = [limiter.admit("b", 9_500.0) for _ in range(12)]
    assert flood[:10] == [Verdict.ALLOW] * 10 and flood[10:] == [Verdict.DENY_NOTIFY, Verdict.DENY_QUIET]
    # and a date from the past refills nothing.
    assert limiter.admit("b", 9_000.0) is Verdict.DENY_QUIET


def test_rate_limit_forgets_idle_senders() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=2, per_minute=60, clock=lambda: now[0], max_senders=3)
    for sender in "abc":
        limiter.admit(sender)
    now[0] += 10
    limiter.admit("d")
    assert limiter.tracked == 1
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(burst=0)
