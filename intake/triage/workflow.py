"""The triage workflow of a case, as a `transitions` state machine.

    new -> acknowledged -> in_progress -> awaiting_defender / escalated -> closed
    any open state -> transferred (to another mission) -> acknowledged ...
    closed -> in_progress (reopen)

One machine for every case: a case's state is attached only while a
transition is checked, as the flows engine does with conversations.

The states themselves are defined once, in `flows.CASE_STATES`: the /status
view renders each of them and its catalog checks a text for each, and flows
imports nothing of intake. This module adds what is intake's: the transitions.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine, MachineError

from flows import CASE_STATES
from intake.errors import IllegalTransition

STATUSES = CASE_STATES
OPEN = tuple(s for s in STATUSES if s != "closed")

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "ack", "source": ["new", "transferred"], "dest": "acknowledged"},
    {
        "trigger": "start",
        "source": ["acknowledged", "awaiting_defender", "escalated", "transferred"],
        "dest": "in_progress",
    },
    {
        # A reply is an answer to the defender whatever the open state: it also acknowledges.
        "trigger": "await_defender",
        "source": ["new", "acknowledged", "in_progress", "escalated", "transferred"],
        "dest": "awaiting_defender",
    },
    {
        "trigger": "escalate",
        "source": ["acknowledged", "in_progress", "awaiting_defender"],
        "dest": "escalated",
    },
    {"trigger": "transfer", "source": list(OPEN), "dest": "transferred"},
    {"trigger": "close", "source": list(OPEN), "dest": "closed"},
    {"trigger": "reopen", "source": "closed", "dest": "in_progress"},
]
TRIGGERS = tuple(str(t["trigger"]) for t in TRANSITIONS)
# `queue status REF STATE` names the state wanted; this is the trigger for it.
TRIGGER_FOR_STATUS = {
    "acknowledged": "ack",
    "in_progress": "start",
    "awaiting_defender": "await_defender",
    "escalated": "escalate",
    "closed": "close",
}


# What an officer types (a `hrd-intake queue` subcommand; the console's buttons
# say the same) for each trigger: refusals name these, not the triggers.
COMMANDS = {
    "ack": "ack",
    "start": "status in_progress",
    "await_defender": "reply",
    "escalate": "status escalated",
    "transfer": "transfer",
    "close": "close",
    "reopen": "reopen",
}


class _Case:
    state: str


# Holds no case: each is attached only while its transition is checked.
_MACHINE = Machine(
    model=None, states=list(STATUSES), transitions=TRANSITIONS, initial=None, auto_transitions=False
)


def next_status(status: str, trigger: str) -> str:
    """The state `trigger` leads to from `status`.

    Raises:
        IllegalTransition: the workflow does not allow it.
    """
    if trigger not in TRIGGERS or status not in STATUSES:
        raise _illegal(status, trigger)
    case = _Case()
    _MACHINE.add_model(case, initial=status)
    try:
        getattr(case, trigger)()
    except MachineError:
        raise _illegal(status, trigger) from None
    finally:
        _MACHINE.remove_model(case)
    return case.state


def _illegal(status: str, trigger: str) -> IllegalTransition:
    allowed = [COMMANDS[t] for t in allowed_triggers(status)]
    return IllegalTransition(status, COMMANDS.get(trigger, trigger), allowed)


def allowed_triggers(status: str) -> list[str]:
    return [
        t["trigger"]
        for t in TRANSITIONS
        if status in (t["source"] if isinstance(t["source"], list) else [t["source"]])
    ]
