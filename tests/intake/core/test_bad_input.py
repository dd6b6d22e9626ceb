"""Hostile or broken input at every kind of step: a clear answer, no exception, nothing lost."""

from __future__ import annotations

import pytest

from intake.triage.queue import list_cases, open_case
from tests.support.defender import Defender
from tests.support.setup import Setup

INVALID_EVERYWHERE = [
    "",
    "   ",
    "x" * 1_000_000,
    "\x00\xff\xfe\x01binary",
    "abc\x07\x1b[31mred",
    "\u202eevil.exe",
    "\ud800lone surrogate",
]
# Plausible-looking data: accepted as text where text is asked, refused elsewhere.
DATA_LIKE = [
    "'; DROP TABLE cases; --",
    "<script>alert(1)</script>",
    "Kal\u200bina",
    "/unknowncommand",
    "99",
]

# The threat report with the date branch, one step of each kind:
# (kind of step, a valid answer).
WALK = [
    ("menu", ("choose", "threat_report")),
    ("yesno", ("choose", "yes")),
    ("country", ("say", "Kenya")),
    ("choice", ("choose", "someone_else")),
    ("multi", ("say", "3")),
    ("multi", ("choose", "done")),
    ("choice", ("choose", "earlier")),
    ("date", ("say", "2026-01-02")),
    ("text", ("say", "<b>'; DELETE FROM cases; --</b> Kal\u200bina")),
    ("files", ("choose", "skip")),
    ("choice", ("choose", "days")),
    ("text", ("say", "Signal")),
    ("choice", ("choose", "public_statement")),
    ("yesno", ("choose", "no")),
    ("confirm", ("choose", "confirm")),
]


def test_bad_input_at_every_kind_of_step(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    for kind, (action, value) in WALK:
        offered = list(defender.choices)
        bad = INVALID_EVERYWHERE if kind == "text" else INVALID_EVERYWHERE + DATA_LIKE
        for text in bad:
            defender.send(text)
            assert defender.text, f"no answer to bad input at a {kind} step"
            # Same question again: the same buttons are on offer.
            assert defender.choices == offered or kind in ("country", "multi"), (kind, text[:20])
        defender.send(choice="not-an-option")
        assert defender.choices == offered or kind in ("country", "multi")
        if action == "choose":
            defender.choose(value)
        else:
            defender.send(value)

    with setup.sessions() as session:
        [case] = list_cases(session)
        answers = open_case(session, setup.cipher, case.reference, setup.recovery).payload[
            "answers"
        ]
    # Nothing lost, nothing altered: each answer is the one finally given.
    assert answers["country"] == "KE"
    assert answers["at_risk"] == "someone_else"
    assert answers["threat_types"] == ["physical_violence"]
    assert answers["when_date"] == "2026-01-02"
    assert answers["details"] == "<b>'; DELETE FROM cases; --</b> Kal\u200bina"
    assert answers["usage"] == "public_statement"


@pytest.mark.parametrize("text", ["\u202e", "a\x1b[2Jb", "x" * 5000])
def test_refused_text_says_why(setup: Setup, text: str) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    for action, value in [step for _, step in WALK[:3]]:
        defender.choose(value) if action == "choose" else defender.send(value)
    defender.choose("me")
    defender.send("1, 2")
    defender.choose("ongoing")
    defender.send(text)
    assert "skip" not in defender.choices  # still at the description
    assert defender.text.strip()


def test_flood_of_unknown_commands_is_answered_each_time(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    defender.choose("threat_report")
    for index in range(50):
        command = "/flood" + "x" * (index % 20)
        defender.send(command)
        assert command in defender.text
        assert defender.choices == ["yes", "no"]
    defender.choose("yes")
