"""A safety check-in on the console channel (`hrd-intake chat`), on both databases."""

from __future__ import annotations

import io

from bots.console import ConsoleChannel
from tests.support.checkins import alert_cases, checkin_service, scheduler
from tests.support.setup import Setup

START = "3\n1\nCourt hearing\nMy lawyer\nKenya\n1\n2\n1\nsunflower\nthunder\n1\n"


def test_a_check_in_on_the_console(setup: Setup) -> None:
    out = io.StringIO()
    ConsoleChannel(checkin_service(setup), io.StringIO(START), out, sender="c").run()
    assert "  3. Ask to be checked on" in out.getvalue()
    assert "Your check-in is set. I will ask you at 2026-11-28 14:00 UTC." in out.getvalue()
    assert "sunflower" not in out.getvalue() and "thunder" not in out.getvalue()

    # Given the prompt queued at the due time, the console shows it at the next session...
    setup.clock.advance(hours=2)
    assert scheduler(setup).run_once().prompted == 1
    answered = io.StringIO()
    ConsoleChannel(checkin_service(setup), io.StringIO("Sunflower\n"), answered, sender="c").run()
    shown = answered.getvalue()
    assert "Time to check in: reply with your word." in shown
    assert "you are checked in. Next check-in: 2026-11-28 16:00 UTC" in shown

    # ...and a miss raises the case.
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=31)
    assert scheduler(setup).run_once().alerted == 1
    assert len(alert_cases(setup)) == 1
