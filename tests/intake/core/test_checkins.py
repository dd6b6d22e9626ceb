"""Safety check-ins through the conversation service, on SQLite and PostgreSQL, with a test clock.

Given a defender who started a check-in every 2 hours, the scheduler (run by
hand on the test clock) asks at each due time and raises the urgent case
when the grace period (30 minutes) passes unanswered.
"""

from __future__ import annotations

from intake.storage.models import Case, CaseEvent, Checkin, Delivery
from intake.triage.queue import open_case
from tests.support.checkins import (
    DURESS,
    WORD,
    alert_cases,
    checkin_row,
    checkin_script,
    checkin_service,
    count,
    prompts,
    scheduler,
)
from tests.support.defender import Defender, play
from tests.support.setup import Setup


def started(setup: Setup, **script: str) -> Defender:
    defender = Defender(checkin_service(setup))
    defender.send("/start")
    play(defender, checkin_script(**script))
    assert "Your check-in is set" in defender.text, defender.text
    assert defender.wiped  # the words typed are deleted from the chat
    return defender


def test_due_prompt_then_the_word_confirms_and_reschedules(setup: Setup) -> None:
    defender = started(setup)
    assert count(setup, Case) == 0 and count(setup, Checkin) == 1
    setup.clock.advance(hours=1, minutes=59)
    assert scheduler(setup).run_once().acted == 0
    setup.clock.advance(minutes=1)
    assert scheduler(setup).run_once().prompted == 1
    [prompt] = prompts(defender.service)
    assert prompt.text == "Time to check in: reply with your word." and prompt.chat == "chat-1"
    assert scheduler(setup).run_once().acted == 0  # asked once
    setup.clock.advance(minutes=10)
    defender.send("Sunflower ")
    assert "you are checked in" in defender.text and "2026-11-28 16:10 UTC" in defender.text
    assert defender.wiped
    setup.clock.advance(hours=3)
    assert scheduler(setup).run_until_idle().alerted == 0
    assert count(setup, Case) == 0


def test_a_missed_check_in_raises_one_urgent_case_with_the_sealed_details(setup: Setup) -> None:
    started(setup, destination="CANARY-DEST court", contacts="CANARY-CONTACT lawyer")
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=29)
    assert scheduler(setup).run_once().alerted == 0
    setup.clock.advance(minutes=1)
    assert scheduler(setup).run_once().alerted == 1
    assert scheduler(setup).run_until_idle().acted == 0  # raised once
    [case] = alert_cases(setup)
    assert (case.urgency, case.status, case.mission_id) == ("immediate", "new", "eu-del-ke")
    assert case.dek_wrapped is None  # sealed: the server alone cannot open it
    with setup.sessions() as session:
        opened = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert opened.payload["answers"]["destination"] == "CANARY-DEST court"
    assert opened.payload["answers"]["alert_contacts"] == "CANARY-CONTACT lawyer"
    assert WORD not in str(opened.payload) and DURESS not in str(opened.payload)
    assert [e.kind for e in opened.events] == ["checkin"]
    assert "did not answer" in opened.events[0].text
    row = checkin_row(setup)
    assert row is not None and row.state == "missed" and row.due_at is None


def test_a_late_check_in_adds_to_the_case_instead_of_opening_another(setup: Setup) -> None:
    defender = started(setup)
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=45)
    scheduler(setup).run_once()
    defender.send("hello?")
    assert "not the word I expected" in defender.text
    defender.send(WORD)
    assert "you are checked in" in defender.text
    [case] = alert_cases(setup)
    with setup.sessions() as session:
        opened = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert [e.text.split(":")[0] for e in opened.events] == ["Missed check-in", "Checked in late"]
    # The schedule resumes; the next miss adds to the same case.
    setup.clock.advance(hours=2, minutes=31)
    scheduler(setup).run_until_idle()
    setup.clock.advance(minutes=31)
    scheduler(setup).run_until_idle()
    assert len(alert_cases(setup)) == 1
    assert count(setup, CaseEvent) == 3


def test_the_duress_word_is_answered_like_a_confirmation_and_raises_the_alert(setup: Setup) -> None:
    defender = started(setup)
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    defender.send(WORD)
    confirmed = defender.text
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    defender.send(DURESS.upper())
    assert defender.text == confirmed.replace("14:00", "16:00").replace("16:00 UTC", "18:00 UTC")
    [case] = alert_cases(setup)
    with setup.sessions() as session:
        opened = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert "duress word" in opened.events[0].text
    row = checkin_row(setup)
    assert row is not None and row.state == "scheduled"  # looks like any confirmation


def test_stop_needs_the_word(setup: Setup) -> None:
    defender = started(setup)
    defender.send("/checkin")
    assert "Next check-in: 2026-11-28 14:00 UTC" in defender.text
    defender.send("/checkin stop")
    assert "reply with your check-in word" in defender.text
    defender.send("wrong guess")
    assert "your check-in continues" in defender.text
    assert count(setup, Checkin) == 1
    defender.send("/checkin stop")
    defender.send(WORD)
    assert "has been stopped" in defender.text and defender.wiped
    assert count(setup, Checkin) == 0 and count(setup, Case) == 0
    defender.send("/checkin")
    assert "no check-in running" in defender.text


def test_stopping_with_the_duress_word_looks_stopped_and_alerts(setup: Setup) -> None:
    defender = started(setup)
    defender.send("/checkin stop")
    defender.send(DURESS)
    assert "has been stopped" in defender.text
    assert count(setup, Checkin) == 0 and len(alert_cases(setup)) == 1


def test_delete_ends_the_check_in(setup: Setup) -> None:
    defender = started(setup)
    defender.send("/delete")
    assert count(setup, Checkin) == 0 and count(setup, Case) == 0
    setup.clock.advance(hours=5)
    assert scheduler(setup).run_until_idle().acted == 0


def test_restart_between_due_times_keeps_the_schedule(setup: Setup) -> None:
    started(setup, every=None, within="h6")
    setup.clock.advance(hours=3)
    assert scheduler(setup).run_once().acted == 0
    # A new process: new service, new scheduler, same database.
    defender = Defender(checkin_service(setup))
    setup.clock.advance(hours=3)
    assert scheduler(setup).run_once().prompted == 1
    assert len(prompts(defender.service)) == 1
    defender.send(WORD)
    assert "This check-in is now complete" in defender.text
    assert count(setup, Checkin) == 0
    setup.clock.advance(hours=12)
    assert scheduler(setup).run_until_idle().acted == 0


def test_the_prompt_reaches_the_defenders_own_channel(setup: Setup) -> None:
    defender = started(setup)
    defender.channel = "console"
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    assert count(setup, Delivery, Delivery.kind == "checkin", Delivery.channel == "console") == 1


def test_one_check_in_per_conversation(setup: Setup) -> None:
    defender = started(setup)
    play(defender, checkin_script())
    assert "already have a check-in running" in defender.text
    assert count(setup, Checkin) == 1


def test_the_services_duress_word_ends_the_check_in_and_alerts(setup: Setup) -> None:
    setup.settings = setup.settings.model_copy(update={"duress_words": ("blue lagoon",)})
    defender = started(setup)
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    defender.send("Blue Lagoon")  # at the prompt: the service's word wins over the check-in's
    assert defender.wiped
    assert count(setup, Checkin) == 0
    [case] = alert_cases(setup)
    with setup.sessions() as session:
        opened = open_case(session, setup.cipher, case.reference, setup.recovery)
    assert "service's duress word" in opened.events[0].text


def test_a_miss_after_the_case_was_closed_reopens_it(setup: Setup) -> None:
    started(setup)
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=31)
    scheduler(setup).run_once()
    [case] = alert_cases(setup)
    with setup.sessions.begin() as session:
        session.get(Case, case.id).status = "closed"  # type: ignore[union-attr]
    defender = Defender(checkin_service(setup))
    defender.send(WORD)
    setup.clock.advance(hours=2)
    scheduler(setup).run_once()
    setup.clock.advance(minutes=31)
    scheduler(setup).run_once()
    [case] = alert_cases(setup)
    assert case.status == "in_progress"
    assert count(setup, CaseEvent) == 3


def test_purge_of_idle_conversations_keeps_one_with_a_running_check_in(setup: Setup) -> None:
    from tests.intake.keys.test_purge import run_purge

    started(setup, every="h12")
    setup.clock.advance(hours=setup.settings.draft_idle_hours + 1)
    run_purge(setup)
    assert count(setup, Checkin) == 1


def test_a_running_check_in_survives_kek_rotation_rewrap_and_retirement(setup: Setup) -> None:
    from intake.keys.rewrap import rewrap_all
    from tests.support.keys import fresh_cipher, retire, rotate, verify

    started(setup)
    assert rotate(setup) == 2
    cipher = fresh_cipher(setup)
    rewrap_all(setup.sessions, cipher, batch=100)
    assert retire(setup, 1)  # refused while a check-in still needed version 1
    setup.cipher = fresh_cipher(setup)
    assert verify(setup, setup.cipher, setup.recovery).failures == []
    setup.clock.advance(hours=2)
    assert scheduler(setup).run_once().prompted == 1
    setup.clock.advance(minutes=31)
    assert scheduler(setup).run_once().alerted == 1


def test_metrics_count_running_check_ins_per_mission_and_state(setup: Setup) -> None:
    from intake.runtime.gauges import database_families
    from intake.runtime.metrics import render

    started(setup)
    with setup.sessions() as session:
        body = render(database_families(session, setup.clock()))
    assert 'hrd_intake_checkins_running{mission="eu-del-ke",state="scheduled"} 1.0' in body
