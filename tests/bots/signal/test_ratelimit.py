"""The per-sender rate limit on Signal: a flood is told once, dropped unread, and costs nothing.

Time is Signal's server clock, which the tests own: each message says when the
server received it (`FakeSignal.inject(received=...)`, in ms). The limiter's own
clock is pinned to 0: were the channel to count by it instead, no refill would
ever come and these tests would fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from bots.ratelimit import RateLimiter
from flows import load_catalog
from tests.bots.signal.conftest import RunSignal, SignalDefender, unfinished
from tests.bots.signal.test_failures import counts
from tests.support.fake_signal import FakeSignal
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup

NOTICE = "You are sending messages very quickly"
T0 = 1_800_000_000_000  # Signal's server clock at the start of a test, in ms


def limiter(burst: int) -> RateLimiter:
    return RateLimiter(burst=burst, per_minute=30, clock=lambda: 0.0)


def notices(fake: FakeSignal, aci: str) -> int:
    return sum(NOTICE in sent.text for sent in fake.sent_to(aci))


def test_a_flood_is_told_once_and_dropped_unread_while_another_sender_is_served(
    setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
    debug_log: Callable[..., object],
) -> None:
    sig, tag = signal_fake, secrets.token_hex(6)
    debug_log(setup.settings.log_path, "text")
    flooder = signal_defender(setup, f"f100d000-{tag[:4]}-4000-8000-{tag}")
    other = signal_defender(setup, "5d2c7b1e-0000-4000-8000-00000000cafe")
    flood_texts = [f"flood-{tag}-{i}" for i in range(12)]
    with signal_run(setup, limiter=limiter(burst=3)):
        # Given one sender flooding: 12 messages (one a file) within 12 ms of Signal's clock,
        # and another defender writing 3 messages at the same moments.
        flood, others = [], []
        for i, text in enumerate(flood_texts):
            if i == 6:
                files = [(f"file-{tag}".encode(), "application/pdf", f"flood-{tag}.pdf")]
                flood.append(sig.inject(flooder.aci, None, attachments=files, received=T0 + i))
            else:
                flood.append(sig.inject(flooder.aci, text, received=T0 + i))
            if i % 4 == 0:
                others.append(sig.inject(other.aci, f"/start {i}", received=T0 + i))
        # When a minute later (the bucket refilled) the flooder writes once more.
        later = sig.inject(flooder.aci, "/start", received=T0 + 60_000)

        # Then that message is read and answered (so every earlier one was handled: in order),
        flooder.settle(later)
        for stamp in others:
            other.settle(stamp)
        sig.wait_for(lambda f: notices(f, flooder.aci), 15, "the rate-limit notice")
        sig.wait_for(lambda f: unfinished(setup) == 0, 15, "every answer sent")

        # the flooder was told exactly once, and only the burst and the later one show as read:
        # the rest show unread, as the notice (and the first-contact notice) say to resend them.
        assert notices(sig, flooder.aci) == 1
        assert sig.read_receipts(flooder.aci) == {*flood[:3], later}
        # the other sender was not touched: each message read and answered, never told.
        assert sig.read_receipts(other.aci) == set(others)
        assert notices(sig, other.aci) == 0
        # Nothing of the flood beyond the burst reached the inbox or the core.
        assert counts(setup) == (3 + 1 + 3, 3 + 1 + 3)

        # When the flooder then asks to delete the chat, the notice goes with the rest.
        flooder.settle(sig.inject(flooder.aci, "/delete", received=T0 + 61_000))
        assert "press and hold" in flooder.texts()[0]
        assert not any(NOTICE in text for text in flooder.texts())
    # The dropped file left signal-cli's folder too.
    assert list(sig.attachments.iterdir()) == []

    # And neither the flood's words nor the flooder's ACI is in the logs (DEBUG) or the home.
    log = setup.settings.log_path.read_text()
    assert log.count("over the rate limit") == 1
    canaries = [*flood_texts, f"file-{tag}", f"flood-{tag}.pdf", flooder.aci]
    found = leaks(canaries, files_under(setup.settings.home, sig.attachments))
    assert found == [], [(canary, path.name) for canary, path in found]


def test_a_backlog_that_waited_on_signals_server_is_no_flood(
    primary_setup: Setup,
    signal_fake: FakeSignal,
    signal_run: RunSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    # Given 14 messages written 2 s apart while the bot was down (they waited on the server),
    me = signal_defender(primary_setup)
    stamps = [signal_fake.inject(me.aci, f"note {i}", received=T0 + 2000 * i) for i in range(14)]
    # When the bot comes back with the default limit (burst 10, then 30 a minute),
    with signal_run(primary_setup, limiter=limiter(burst=10)):
        # Then every one of them is read and answered: they arrive at once, but are
        # counted at the pace Signal's server received them.
        for stamp in stamps:
            me.settle(stamp)
    assert counts(primary_setup) == (14, 14)


def test_the_notice_is_in_the_language_the_sender_chose(
    primary_setup: Setup,
    signal_fake: FakeSignal,
    signal_run: RunSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig = signal_fake
    french = load_catalog().text("fr", "notice.signal_rate_limited")
    me = signal_defender(primary_setup)
    with signal_run(primary_setup, limiter=limiter(burst=4)):
        # Given a defender who switched the conversation to French (the picker, by number),
        me.settle(sig.inject(me.aci, "/language", received=T0))
        picker = me.last_text()
        [number] = [line.split(".")[0].strip() for line in picker.splitlines() if "Français" in line]
        me.settle(sig.inject(me.aci, number, received=T0 + 1))
        # when they then send faster than the limit,
        stamps = [sig.inject(me.aci, f"vite {i}", received=T0 + 2 + i) for i in range(4)]
        me.settle(stamps[1])
        # they are told once, in French: Signal gives no language hint, the conversation does.
        sig.wait_for(lambda f: french in f.texts(me.aci), 15, "the notice in French")
        assert notices(sig, me.aci) == 0  # (the English notice)
        assert sum(text == french for text in me.texts()) == 1
