"""Two workers handed one defender's messages at once, on real databases.

A lease takeover overlaps the old and the new holder for a moment (the old
one finishes the batch in hand, and may poll once more with its old offset),
so two processes can process consecutive messages of the same defender at the
same time. Each must see the other's committed answer: the conversation row
is read locked, so the later message waits for the earlier one's commit
instead of applying itself to the state before it (which would drop an
answer and leave the defender's report unsent).
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from intake.core.service import ConversationService
from intake.messages import Inbound
from intake.triage.queue import list_cases, open_case
from tests.support.defender import Defender, play, threat_report
from tests.support.setup import Setup


def message(message_id: str, choice: str) -> Inbound:
    return Inbound(
        channel="console", sender="defender-1", chat="chat-1", message_id=message_id, choice=choice
    )


def wait_until_blocked_or_done(setup: Setup, worker: threading.Thread) -> None:
    """Until `worker` waits on a PostgreSQL lock or has finished.

    SQLite has one writer at a time: the worker waits for the database lock
    (well within its busy timeout) as soon as it writes; give it a moment.
    """
    if setup.engine.dialect.name != "postgresql":
        worker.join(0.5)
        return
    deadline = time.monotonic() + 10
    while worker.is_alive() and time.monotonic() < deadline:
        with setup.engine.connect() as connection:
            waiting = connection.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
        if waiting:
            return
        worker.join(0.05)


def test_the_next_message_waits_for_the_one_being_processed(setup: Setup) -> None:
    first, second = setup.service(), setup.service()
    defender = Defender(first)
    defender.send("/start")
    # Given one worker inside its transaction with the defender's choice of flow,
    inside, release = threading.Event(), threading.Event()

    def hold(*_: object) -> None:
        inside.set()
        assert release.wait(30)

    def run(service: ConversationService, inbound: Inbound, within: object = None) -> None:
        service.handle_batch([inbound], within=within)  # type: ignore[arg-type]

    earlier = threading.Thread(
        target=run, args=(second, message("m-flow", "threat_report"), hold)
    )
    earlier.start()
    assert inside.wait(30)
    # when another worker gets the defender's next answer (consent) meanwhile,
    later = threading.Thread(target=run, args=(first, message("m-consent", "yes")))
    later.start()
    wait_until_blocked_or_done(setup, later)
    release.set()
    earlier.join(30)
    later.join(30)
    assert not earlier.is_alive() and not later.is_alive()
    # then both answers count, in order: the defender goes on from the country question
    play(defender, threat_report(details="Both answers counted.")[2:])
    with setup.sessions() as session:
        [case] = list_cases(session)
        content = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert content.payload["answers"]["consent_store"] == "yes"
    assert content.payload["answers"]["details"] == "Both answers counted."
