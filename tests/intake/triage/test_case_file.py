"""The one case renderer and the workflow fixes behind it, through the case desk."""

from __future__ import annotations

import pytest

from intake.core.desks import build_desk
from intake.errors import IllegalTransition, OfficerRefused, ReasonRequired, Refused
from intake.references import CaseRef, MissionId, OfficerId
from intake.storage.queue_pages import QueueFilter
from intake.triage.desk import Acting
from intake.triage.statistics import count_statistics, shown
from tests.support.defender import Defender, threat_report
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"


def _world(setup: Setup) -> tuple[object, Acting, Acting, str, CaseRef]:
    desk = build_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    ben, _ = enrol(setup, "eu-del-ke", "Ben Officer", PASSPHRASE, unlock=ana_keys)
    defender = Defender(setup.service(), sender="d1")
    defender.send("/start")
    for how, value in threat_report("Kenya", details="Ils m'ont suivi."):
        defender.choose(value) if how == "choose" else defender.send(value)
    reference = CaseRef(defender.reference())
    acting = desk.unlock(desk.officer(OfficerId(ana), "t", "t"), PASSPHRASE, "t")
    other = desk.unlock(desk.officer(OfficerId(ben), "t", "t"), PASSPHRASE, "t")
    return desk, acting, other, ben, reference


def test_labels_in_the_officers_language_and_a_complete_timeline(setup: Setup) -> None:
    desk, ana, _ben_acting, ben, reference = _world(setup)
    desk.change_status(reference, ana, "ack")
    desk.claim(reference, ana)
    desk.assign(reference, ana, OfficerId(ben))
    desk.unclaim(reference, ana)
    desk.change_status(reference, ana, "escalate", "CANARY-REASON lawyer arrested")
    desk.note(reference, ana, "called the lawyer")
    file, _ = desk.case_file(reference, ana, "fr")
    answers = {a.label: a.value for a in file.answers}
    assert answers["Pays"] == "Kenya" and answers["Personne en danger"] == "Moi"
    assert file.language == "en" and file.summary.country == "KE"
    kinds = [t.kind for t in file.timeline]
    assert kinds == ["submitted", "state", "claim", "assign", "unclaim", "state", "note"]
    escalated = file.timeline[5]
    assert escalated.what == "escalated" and escalated.text == "CANARY-REASON lawyer arrested"
    assert file.timeline[3].what == f"assigned to {ben}"


def test_reply_awaits_the_defender_and_their_answer_marks_it_answered(setup: Setup) -> None:
    desk, ana, _, _ben, reference = _world(setup)
    desk.reply(reference, ana, "Are you safe?")  # straight from new
    [case] = desk.list(ana.officer, [], [], limit=10, offset=0)
    assert case.status == "awaiting_defender" and not case.answered
    service = setup.service()
    # The channel sends the reply: only then does the conversation await an answer.
    for delivery in service.claim_deliveries("console"):
        service.delivered(delivery)
    defender = Defender(service, sender="d1")
    defender.send("Yes, safe now.")
    answered = desk.list(ana.officer, [], [], limit=10, offset=0, wanted=QueueFilter(answered=True))
    assert [c.reference for c in answered] == [reference] and answered[0].status == "in_progress"
    desk.reply(reference, ana, "Good.")
    assert not desk.list(ana.officer, [], [], limit=10, offset=0)[0].answered


def test_closing_needs_a_reason_and_hides_the_case(setup: Setup) -> None:
    desk, ana, _, _ben, reference = _world(setup)
    with pytest.raises(ReasonRequired):
        desk.change_status(reference, ana, "close")
    desk.change_status(reference, ana, "close", "relocated")
    assert desk.list(ana.officer, [], [], limit=10, offset=0) == []
    assert len(desk.list(ana.officer, [], ["closed"], limit=10, offset=0)) == 1
    with pytest.raises(IllegalTransition):
        desk.reply(reference, ana, "still there?")


def test_assign_only_within_the_mission_and_unclaim_needs_a_holder(setup: Setup) -> None:
    desk, ana, _, _ben, reference = _world(setup)
    ivan, _ = enrol(setup, "eu-del-ua", "Ivan Officer", PASSPHRASE)
    with pytest.raises(OfficerRefused):
        desk.assign(reference, ana, OfficerId(ivan))
    with pytest.raises(Refused):
        desk.unclaim(reference, ana)
    desk.transfer(reference, ana, MissionId("eu-del-ua"), "their citizen")
    with pytest.raises(Refused):
        desk.case_file(reference, ana, "en")


def test_small_counts_are_hidden() -> None:
    assert [shown(n) for n in (0, 1, 4, 5, 12)] == ["0", "<5", "<5", "5", "12"]
    assert count_statistics("m", []).total == "0"
