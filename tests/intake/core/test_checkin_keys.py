"""A check-in started when no trusted recovery key is at hand waits, like a submission.

It never falls back to a key the server holds: with no recovery key the start
is deferred (nothing written), with a forged one it is held in the sealed
conversation record and started on the defender's next message once the
keys verify. Either way the defender is told that nobody is alerted yet.
"""

from __future__ import annotations

from sqlalchemy import update

from crypto import generate_keypair
from intake.storage.models import Checkin, KeySeal, RecoveryKey
from tests.support.checkins import checkin_row, checkin_script, checkin_service, count
from tests.support.defender import Defender, play
from tests.support.setup import Setup

NOT_YET = "nobody will be alerted"


def test_without_a_recovery_key_the_start_is_deferred_and_nothing_written(setup: Setup) -> None:
    # Given no active recovery key (security staff have not run `keys recovery init`)
    with setup.sessions.begin() as session:
        session.execute(update(RecoveryKey).values(active=False))
    defender = Defender(checkin_service(setup))
    defender.send("/start")

    # When a defender confirms a check-in
    play(defender, checkin_script())

    # Then nothing is written, and the defender knows it is not running
    assert NOT_YET in defender.text and "confirm again" in defender.text
    assert count(setup, Checkin) == 0

    # And once the recovery key is back, confirming again starts it, sealed to that key only
    with setup.sessions.begin() as session:
        session.execute(update(RecoveryKey).values(active=True))
    defender.choose("confirm")
    assert "Your check-in is set" in defender.text, defender.text
    row = checkin_row(setup)
    assert row is not None and row.case_dek_wrapped is None
    assert b"recovery:" in row.case_seals


def test_with_a_forged_recovery_key_the_check_in_is_held_then_started(setup: Setup) -> None:
    # Given an attacker who can write the database only: another installation's recovery key
    _, forged = generate_keypair()
    with setup.sessions.begin() as session:
        session.execute(update(RecoveryKey).values(active=False))
        session.add(
            RecoveryKey(
                key_id=forged.key_id,
                public_key=forged.to_bytes(),
                active=True,
                created_at=setup.clock(),
            )
        )
    defender = Defender(checkin_service(setup))
    defender.send("/start")

    # When the defender confirms a check-in
    play(defender, checkin_script())

    # Then nothing is sealed to the forged key, and the defender is told it is not running yet
    assert NOT_YET in defender.text and "any message" in defender.text
    assert count(setup, Checkin) == 0 and count(setup, KeySeal) == 0

    # And after the forgery is undone, the next message starts the held check-in
    with setup.sessions.begin() as session:
        session.execute(
            update(RecoveryKey).where(RecoveryKey.key_id == forged.key_id).values(active=False)
        )
        session.execute(
            update(RecoveryKey).where(RecoveryKey.key_id != forged.key_id).values(active=True)
        )
    defender.send("/checkin")
    assert "Your check-in is set" in defender.text, defender.text
    row = checkin_row(setup)
    assert row is not None and forged.key_id.encode() not in row.case_seals
    defender.send("/checkin")
    assert count(setup, Checkin) == 1  # started once
