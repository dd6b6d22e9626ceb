"""Tests of intake.triage.workflow: the transitions between the states flows defines."""

from __future__ import annotations

import click
import pytest

from flows import CASE_STATES
from intake.cli.main import cli
from intake.triage.workflow import (
    COMMANDS,
    STATUSES,
    TRANSITIONS,
    TRIGGER_FOR_STATUS,
    TRIGGERS,
    IllegalTransition,
    allowed_triggers,
    next_status,
)


def test_the_states_are_those_flows_renders() -> None:
    assert STATUSES is CASE_STATES


def test_every_state_but_new_is_reached_and_every_open_state_left() -> None:
    destinations = {str(t["dest"]) for t in TRANSITIONS}
    assert destinations == set(STATUSES) - {"new"}
    for status in STATUSES:
        assert allowed_triggers(status), f"{status} is a dead end"


@pytest.mark.parametrize(("status", "trigger"), sorted(TRIGGER_FOR_STATUS.items()))
def test_each_wanted_state_names_the_trigger_leading_to_it(status: str, trigger: str) -> None:
    sources = [s for s in STATUSES if trigger in allowed_triggers(s)]
    assert sources
    assert {next_status(source, trigger) for source in sources} == {status}


def test_an_unknown_state_or_trigger_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        next_status("archived", "close")
    with pytest.raises(IllegalTransition):
        next_status("new", "archive")
    with pytest.raises(IllegalTransition, match=r"does not allow `reopen` \(it allows `ack`, `reply`, `transfer`, `close`\)"):
        next_status("new", "reopen")


def test_refusals_name_what_an_officer_types() -> None:
    queue = cli.get_command(click.Context(cli), "queue")
    assert isinstance(queue, click.Group)
    assert set(COMMANDS) == set(TRIGGERS)
    for command in COMMANDS.values():
        name, *argument = command.split()
        assert queue.get_command(click.Context(queue), name) is not None, command
        assert argument == [] or argument[0] in STATUSES
    with pytest.raises(IllegalTransition, match=r"`status in_progress` \(it allows `reopen`\)"):
        next_status("closed", "start")
