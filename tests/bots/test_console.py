from __future__ import annotations

import io

from bots.console import ConsoleChannel
from intake.triage.queue import list_cases
from tests.support.setup import Setup


def test_numbers_answer_buttons_and_text_is_text(sqlite_setup: Setup) -> None:
    script = "1\n1\nKenya\n1\n1,2\n1\nThey followed me.\n1\n1\nSignal\n1\n1\n1\n"
    out = io.StringIO()
    ConsoleChannel(sqlite_setup.service(), io.StringIO(script), out, sender="console-test").run()
    assert "  1. Report a threat" in out.getvalue()
    assert "Your reference is HRD-" in out.getvalue()
    with sqlite_setup.sessions() as session:
        assert [c.mission for c in list_cases(session)] == ["eu-del-ke"]


def test_end_of_input_keeps_the_draft(sqlite_setup: Setup) -> None:
    first = io.StringIO()
    ConsoleChannel(sqlite_setup.service(), io.StringIO("1\n1\n"), first, sender="s").run()
    second = io.StringIO()
    ConsoleChannel(sqlite_setup.service(), io.StringIO(""), second, sender="s").run()
    # The /start of the second session says a draft is in progress and asks for the country.
    assert "country" in second.getvalue().lower()
