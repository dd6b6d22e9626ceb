"""Rendering /status for the caller."""

from __future__ import annotations

from datetime import date

import pytest

from flows import CASE_STATES, Catalog, render_status


def test_status_lines(catalog: Catalog) -> None:
    text = render_status(catalog, "fr", [("HRD-7Q2K", "in_progress", date(2026, 6, 1))])
    assert text.splitlines() == [
        "Vos signalements et demandes :",
        "HRD-7Q2K : En cours de traitement (depuis le 1 juin 2026)",
    ]


def test_no_cases(catalog: Catalog) -> None:
    assert render_status(catalog, "ru", []) == catalog.text("ru", "status.none")


@pytest.mark.parametrize("lang", ["en", "fr", "es", "ar", "ru"])
def test_every_state_has_a_name(catalog: Catalog, lang: str) -> None:
    cases = [(f"REF-{n}", state, date(2026, 1, 1)) for n, state in enumerate(CASE_STATES)]
    assert len(render_status(catalog, lang, cases).splitlines()) == len(CASE_STATES) + 1


def test_unknown_state_is_a_bug(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        render_status(catalog, "en", [("REF", "lost", date(2026, 1, 1))])


def test_status_takes_the_reference_the_defender_kept() -> None:
    from flows.commands import Command, parse_command

    parsed = parse_command("/status  hrd-7kq2-m9xd ")
    assert parsed is not None and parsed.command is Command.STATUS
    assert parsed.argument == "hrd-7kq2-m9xd"
    bare = parse_command("/status@HrdBot")
    assert bare is not None and bare.argument is None
    # Only /status takes an argument: anything else with one is an ordinary answer.
    assert parse_command("/start deep-link") is None
