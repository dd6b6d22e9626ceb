from __future__ import annotations

import io

from bots.console import ConsoleChannel
from flows import load_catalog
from intake.triage.queue import list_cases
from tests.support.defender import console_threat_report
from tests.support.setup import Setup


def test_numbers_answer_buttons_and_text_is_text(primary_setup: Setup) -> None:
    script = console_threat_report()
    out = io.StringIO()
    ConsoleChannel(primary_setup.service(), io.StringIO(script), out, sender="console-test").run()
    assert "  1. Report a threat" in out.getvalue()
    assert "Your reference is HRD-" in out.getvalue()
    with primary_setup.sessions() as session:
        assert [c.mission for c in list_cases(session)] == ["eu-del-ke"]


def test_end_of_input_keeps_the_draft(primary_setup: Setup) -> None:
    catalog = load_catalog()
    draft_notice = catalog.text("en", "engine.draft_in_progress")
    country = catalog.text("en", "common.country.prompt")
    first = io.StringIO()
    ConsoleChannel(primary_setup.service(), io.StringIO("1\n1\n"), first, sender="s").run()
    assert draft_notice not in first.getvalue() and country in first.getvalue()
    second = io.StringIO()
    ConsoleChannel(primary_setup.service(), io.StringIO(""), second, sender="s").run()
    # The /start of the second session says a draft is in progress and asks for the country.
    shown = second.getvalue()
    assert draft_notice in shown and country in shown
    assert shown.index(draft_notice) < shown.rindex(country)
