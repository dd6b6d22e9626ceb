"""Canaries: a check-in's words and details appear nowhere at rest (database, WAL, logs)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from intake.triage.queue import open_case
from tests.support.checkins import alert_cases, checkin_script, checkin_service, prompts, scheduler
from tests.support.defender import Defender, play
from tests.support.scan import at_rest, leaks
from tests.support.setup import Setup


def test_words_and_details_never_reach_the_disk(
    primary_setup: Setup, debug_log: Callable[..., Path]
) -> None:
    setup = primary_setup
    debug_log(setup.settings.log_path)
    word = f"canaryword{secrets.token_hex(6)}"
    duress = f"canaryduress{secrets.token_hex(6)}"
    destination = f"CANARY-DEST-{secrets.token_hex(8)}"
    contacts = f"CANARY-ALERT-{secrets.token_hex(8)}"
    started = time.time()

    # Given a check-in started, prompted, answered with the duress word, then missed
    defender = Defender(checkin_service(setup))
    defender.send("/start")
    play(defender, checkin_script(destination=destination, contacts=contacts, word=word, duress=duress))
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    prompts(defender.service)
    defender.send(duress)
    defender.send("a wrong answer")
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=31)
    scheduler(setup).run_once()

    # Then none of the four is in the database files, the WAL or the logs
    assert leaks([word, duress, destination, contacts], at_rest(setup, started)) == []
    # ...yet the mission (here: the recovery key) reads the details in the alert case.
    with setup.sessions() as session:
        [case] = alert_cases(setup)
        payload = open_case(session, setup.cipher, case.reference, setup.recovery).payload
    assert payload["answers"]["destination"] == destination
    assert payload["answers"]["alert_contacts"] == contacts
    assert setup.settings.log_path.stat().st_size > 0
