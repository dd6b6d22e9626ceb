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
from intake.messages import Inbound, WipeChat
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


class HeldBatch:
    """A worker's batch stopped inside its transaction, until `release`."""

    def __init__(self, service: ConversationService, inbound: Inbound) -> None:
        self._inside, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=service.handle_batch, args=([inbound], self._hold))
        self._thread.start()
        assert self._inside.wait(30), "the batch never reached its commit"

    def _hold(self, *_: object) -> None:
        self._inside.set()
        assert self._release.wait(30)

    def release_after(self, setup: Setup, meanwhile: threading.Thread) -> None:
        """Start `meanwhile`, let it run into the batch's locks, then commit the batch."""
        meanwhile.start()
        wait_until_blocked_or_done(setup, meanwhile)
        self._release.set()
        for thread in (self._thread, meanwhile):
            thread.join(30)
            assert not thread.is_alive()


def test_the_next_message_waits_for_the_one_being_processed(setup: Setup) -> None:
    first, second = setup.service(), setup.service()
    defender = Defender(first)
    defender.send("/start")
    # Given one worker inside its transaction with the defender's choice of flow,
    held = HeldBatch(second, message("m-flow", "threat_report"))
    # when another worker gets the defender's next answer (consent) meanwhile,
    later = threading.Thread(target=first.handle_batch, args=([message("m-consent", "yes")],))
    held.release_after(setup, later)
    # then both answers count, in order: the defender goes on from the country question
    play(defender, threat_report(details="Both answers counted.")[2:])
    with setup.sessions() as session:
        [case] = list_cases(session)
        content = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert content.payload["answers"]["consent_store"] == "yes"
    assert content.payload["answers"]["details"] == "Both answers counted."


def test_remembering_sent_messages_keeps_an_answer_committed_meanwhile(setup: Setup) -> None:
    service = setup.service()
    defender = Defender(service)
    defender.send("/start")
    # Given a batch with the defender's choice of flow inside its transaction,
    held = HeldBatch(service, message("m-flow", "threat_report"))
    # when the channel remembers the ids of the bot's last messages meanwhile,
    remember = threading.Thread(
        target=service.record_sent_many, args=("console", {"defender-1": ["bot-7", "bot-8"]})
    )
    held.release_after(setup, remember)
    # then the choice counts (consent is asked next), and so do the ids: /delete wipes them.
    defender.send(choice="yes")  # (the held batch asked for consent, not this helper)
    assert "country" in defender.text.lower()
    defender.send("/delete")
    [wipe] = [r for r in defender.last if isinstance(r, WipeChat)]
    assert {"bot-7", "bot-8"} <= set(wipe.message_ids)
