"""Canaries: a check-in's words and details appear nowhere at rest (database, WAL, logs)."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import text

from intake.runtime.logs import setup_logging
from intake.triage.queue import open_case
from tests.support.checkins import alert_cases, checkin_script, checkin_service, prompts, scheduler
from tests.support.defender import Defender, play
from tests.support.scan import files_under, leaks, postgres_files_since
from tests.support.setup import Setup


def test_words_and_details_never_reach_the_disk(primary_setup: Setup) -> None:
    setup = primary_setup
    setup_logging(setup.settings.log_path, "json", "DEBUG")
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
    with setup.sessions() as session:
        session.execute(text("select 1"))
        on_disk = files_under(setup.settings.home)
        if setup.engine.dialect.name == "sqlite":
            assert any(p.name.endswith("-wal") for p in on_disk)
        else:
            on_disk += postgres_files_since(setup.engine, started)
        assert leaks([word, duress, destination, contacts], on_disk) == []
        # ...yet the mission (here: the recovery key) reads the details in the alert case.
        [case] = alert_cases(setup)
        payload = open_case(session, setup.cipher, case.reference, setup.recovery).payload
    assert payload["answers"]["destination"] == destination
    assert payload["answers"]["alert_contacts"] == contacts
    assert setup.settings.log_path.stat().st_size > 0
