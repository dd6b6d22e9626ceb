"""Deliveries on Signal: officers' replies reach defenders (and are wiped with the chat),
notifications reach the officers' Signal group."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from bots.deliveries import DeliveryTiming
from intake.triage.queue import open_case
from tests.bots.signal.conftest import RunSignal, SignalDefender
from tests.bots.signal.test_e2e import reference_in
from tests.support.deliveries import notifying, officer_replies, pending_deliveries
from tests.support.fake_signal import FakeSignal
from tests.support.officers import enrol
from tests.support.serve import wait_until
from tests.support.setup import Setup

GROUP = "b2ZmaWNlcnMtZ3JvdXAtaWQ="
FAST = DeliveryTiming(interval=0.1, base_backoff=0.01, max_backoff=0.05)


def test_reply_reaches_the_defender_notification_the_group_and_delete_wipes_both(
    setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig = signal_fake
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    reply = f"CANARY-REPLY-{secrets.token_hex(6)} Are you safe tonight?"
    answer = "Yes, I am with my sister."
    officer_id, keys = enrol(setup, "eu-del-ke", "Officer")
    setup = notifying(setup, signal_group=GROUP)
    me = signal_defender(setup)

    with signal_run(setup, deliveries=FAST):
        # Given a defender who filed a threat report.
        for text in ["/start", "1", "1", "Kenya", "1", "1, 2", "1", details]:
            me.say(text)
        for text in ["1", "1", "Signal, evenings", "1", "2", "1"]:
            me.say(text)
        reference = reference_in(me.texts())

        # Then the officers' group is told: reference, mission, urgency, and nothing else.
        [notice] = sig.wait_for(lambda f: f.texts(GROUP), 10, "the notification")
        assert reference in notice and "eu-del-ke" in notice
        assert details not in notice

        # When the officer replies, the defender gets it in the same chat.
        before = len(me.texts())
        officer_replies(setup, officer_id, keys, reference, reply)
        sig.wait_for(lambda f: len(me.texts()) > before, 10, "the officer's reply")
        assert reply in me.texts()[-1] and reference in me.texts()[-1]
        wait_until(lambda: pending_deliveries(setup) == 0, 10, "the delivery recorded")

        # When the defender answers, the officer sees it on the case.
        me.say(answer)
        with setup.sessions() as session:
            events = open_case(session, setup.cipher, reference, keys).events
        assert [(e.kind, e.text) for e in events] == [("reply", reply), ("defender", answer)]

        # When the defender types /delete, the officer's reply goes from the chat as well.
        me.say("/delete")
        assert not any(reply in text for text in me.texts())
        assert any("press and hold" in text for text in me.texts())
