"""The Signal channel and key rotation: what waited in the inbox through it, what does not open."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select

from intake.core.inbox import DurableInbox
from intake.keys.rewrap import rewrap_all
from intake.messages import Inbound
from intake.runtime.gauges import database_families
from intake.runtime.health import Health
from intake.runtime.metrics import render
from intake.storage.models import InboxMessage
from tests.bots.signal.conftest import RunSignal, SignalDefender, unfinished
from tests.support.fake_signal import FakeSignal
from tests.support.keys import fresh_cipher, retire, rotate, verify
from tests.support.setup import Setup

TIMER = "disappearing messages"
STAMP = 1_790_000_000_000  # a message signal-cli handed over before the bot went down


def kept_while_down(setup: Setup, me: SignalDefender, *texts: str) -> list[str]:
    """Messages the channel kept (`Pipeline.keep`) before it stopped; their row ids."""
    inbox = DurableInbox(setup.service(), setup.sessions, setup.cipher, setup.clock)
    inbound = [
        Inbound(
            channel="signal",
            sender=me.aci,
            chat=me.aci,
            message_id=f"{me.aci}:{STAMP + n}",
            text=text,
        )
        for n, text in enumerate(texts)
    ]
    assert inbox.keep("signal", inbound) == [True] * len(texts)
    with setup.sessions() as session:
        return list(session.scalars(select(InboxMessage.id).order_by(InboxMessage.received_at)))


def state_of(setup: Setup, row_id: str) -> str | None:
    with setup.sessions() as session:
        row = session.get(InboxMessage, row_id)
        return None if row is None else row.state


def test_a_message_kept_before_rotate_rewrap_retire_is_answered_when_the_bot_is_back(
    setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig, me = signal_fake, signal_defender(setup)
    # Given a defender's first message, kept by the bot just before it went down.
    kept_while_down(setup, me, "/start")

    # When security staff rotate the KEK, rewrap, and retire the old version meanwhile.
    rotate(setup)
    report = rewrap_all(setup.sessions, fresh_cipher(setup))
    assert (report.failures, report.remaining) == ([], 0)
    assert retire(setup, 1)
    verified = verify(setup, fresh_cipher(setup), setup.recovery)
    assert verified.ok and verified.checked["inbox"] == 1

    # Then the bot, back, answers it as a first contact, and the conversation goes on.
    with signal_run(setup):
        sig.wait_for(lambda f: unfinished(setup) == 0 and me.texts(), 15, "the kept message")
        assert sig.expirations == {me.aci: 86400}
        assert any(TIMER in text for text in me.texts())
        assert "1. " in me.last_text()
        before = me.last_text()
        me.say("1")
        assert me.last_text() != before and "1. " in me.last_text()
    assert STAMP in sig.read_receipts(me.aci)
    assert sig.errors == []


def test_a_kept_message_that_does_not_open_is_set_aside_not_blocking_the_others(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup, sig = primary_setup, signal_fake
    alice = signal_defender(setup, "aaaaaaaa-0000-4000-8000-00000000000a")
    bob = signal_defender(setup, "bbbbbbbb-0000-4000-8000-00000000000b")
    # Given alice's message kept ahead of bob's, and then tampered with in the database.
    (row_id,) = kept_while_down(setup, alice, "/start")
    kept_while_down(setup, bob, "/start")
    with setup.sessions.begin() as session:
        row = session.get(InboxMessage, row_id)
        assert row is not None and row.payload_ct is not None
        original = row.payload_ct
        row.payload_ct = original[:-1] + bytes([original[-1] ^ 1])

    # When the bot starts, bob is answered, and alice's message is set aside, named.
    with caplog.at_level(logging.ERROR, logger="intake.core.inbox"), signal_run(setup):
        sig.wait_for(lambda f: bob.texts() and state_of(setup, row_id) == "unreadable", 15, "bob")
        bob.fake.wait_for(lambda f: unfinished(setup) == 1, 15, "bob's answer sent")
        stamp = sig.inject(bob.aci, "1")  # and the channel keeps working
        sig.wait_for(lambda f: stamp in f.read_receipts(bob.aci), 15, "bob's next message read")
        sig.wait_for(lambda f: len(bob.texts()) >= 3, 15, "bob's next question")
        assert alice.texts() == []
    assert [(r.levelname, r.__dict__.get("record")) for r in caplog.records] == [("ERROR", row_id)]

    # Then keys verify names it, /readyz and /metrics count it.
    verified = verify(setup, setup.cipher, setup.recovery)
    assert [(f.record_type, f.record_id, f.problem) for f in verified.failures] == [
        ("inbox", row_id, "Tampered")
    ]
    health = Health(setup.sessions)
    assert health.unreadable_inbox() == {"signal": 1}
    ready, details = health.report(True, [], {}, health.unreadable_inbox())
    assert ready and details["unreadable_inbox_messages"] == {"signal": 1}
    with setup.sessions() as session:
        metrics = render(database_families(session, setup.clock()))
    assert 'hrd_intake_unreadable_inbox_messages{channel="signal"} 1.0' in metrics

    # And once the ciphertext is restored (from a backup), the next session answers her.
    with setup.sessions.begin() as session:
        row = session.get(InboxMessage, row_id)
        assert row is not None
        row.payload_ct = original
    with signal_run(setup):
        sig.wait_for(lambda f: alice.texts() and unfinished(setup) == 0, 15, "alice answered")
    assert "1. " in alice.last_text()
    assert Health(setup.sessions).unreadable_inbox() == {}
    assert sig.errors == []
