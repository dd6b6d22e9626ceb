"""The daemon going away, coming back, handing messages over again, and refusing."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from intake.storage.models import InboxMessage, ProcessedMessage
from tests.bots.signal.conftest import RunSignal, SignalDefender, SignalRunning
from tests.support.fake_signal import FakeSignal
from tests.support.setup import Setup


def counts(setup: Setup) -> tuple[int, int]:
    with setup.sessions() as session:
        kept = session.scalar(select(func.count()).select_from(InboxMessage))
        processed = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "signal")
        )
    return int(kept or 0), int(processed or 0)


def wait_fault(running: SignalRunning, fake: FakeSignal, fault: str | None, since: int = 0) -> None:
    """`fault` reported after the first `since` reports (None: and the channel works now)."""
    if fault is None:
        fake.wait_for(lambda f: running.faults and running.faults[-1] is None, 15, "no fault")
    else:
        fake.wait_for(lambda f: fault in running.faults[since:], 15, f"fault {fault}")


def test_a_restarted_daemon_handing_messages_over_again_changes_nothing(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig, me = signal_fake, signal_defender(primary_setup)
    with signal_run(primary_setup) as running:
        me.say("/start")
        me.say("1")
        sent_before = len(sig.sent_to(me.aci))
        assert counts(primary_setup) == (2, 2)

        # When signal-cli dies after writing the notifications but before deleting them
        # from its cache: after its restart it hands the same envelopes over again.
        since = len(running.faults)
        sig.restart(redeliver=2)
        wait_fault(running, sig, "daemon_unreachable", since)
        wait_fault(running, sig, None)
        sig.wait_for(lambda f: f.pending() == 0, 10, "redelivered envelopes read")

        # Then they are recognised (sender and timestamp) and not answered again.
        me.say("1")  # the next answer goes through as usual
        assert counts(primary_setup) == (3, 3)
        assert len(sig.sent_to(me.aci)) == sent_before + 1
    assert sig.errors == []


def test_refusals_are_reported_until_signal_cli_works_again(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig, me = signal_fake, signal_defender(primary_setup)
    with signal_run(primary_setup) as running:
        assert running.faults[-1] is None
        for fault, reported in [
            ("unregistered", "account_unregistered"),
            ("outdated", "client_outdated"),
        ]:
            # When the account is unregistered (or Signal refuses the client's version).
            since = len(running.faults)
            sig.set_fault(fault)
            sig.restart()
            # Then the channel says so, and keeps trying with backoff.
            wait_fault(running, sig, reported, since)
            stamp = sig.inject(me.aci, "/start")
            # And once signal-cli works again, it carries on where it was.
            sig.set_fault(None)
            wait_fault(running, sig, None)
            me.settle(stamp)
        assert len(me.texts()) >= 2


def test_daemon_unreachable_at_start_then_up(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig, me = signal_fake, signal_defender(primary_setup)
    with signal_run(primary_setup) as running:
        since = len(running.faults)
        sig.stop()
        wait_fault(running, sig, "daemon_unreachable", since)
        stamp = sig.inject(me.aci, "/start")  # waits on Signal's server meanwhile
        sig.start()
        wait_fault(running, sig, None)
        me.settle(stamp)
        assert me.texts()


def test_a_defender_that_cannot_be_reached_does_not_block_the_others(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig = signal_fake
    gone, other = (
        signal_defender(primary_setup, "aci-gone"),
        signal_defender(primary_setup, "aci-2"),
    )
    with signal_run(primary_setup) as running:
        # signal-cli's answer when the recipient has no Signal account any more.
        sig.fail_next("send", code=-1, message="Failed to send message: Unregistered user")
        gone.say("/start")
        other.say("/start")
        assert other.texts()
        assert running.faults[-1] is None
