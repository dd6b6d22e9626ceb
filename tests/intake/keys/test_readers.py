"""No case where nobody can read it: missions holding cases no active officer can open."""

from __future__ import annotations

import pytest

from intake.core import desks
from intake.errors import NoReaders
from intake.keys.readers import missions_without_officers, unreadable_missions
from intake.keys.status import key_status
from intake.references import CaseRef, MissionId
from intake.runtime.health import Health
from intake.triage import officers
from intake.triage.desk import Acting
from tests.support.defender import Defender, play, threat_report
from tests.support.officers import enrol
from tests.support.setup import Setup


def submit_kenya(setup: Setup, sender: str = "d1") -> str:
    defender = Defender(setup.service(), sender=sender)
    defender.send("/start")
    play(defender, threat_report("Kenya"))
    return defender.reference()


def test_a_case_submitted_before_the_first_officer_stays_unreadable_until_resealed(
    setup: Setup,
) -> None:
    # Given a Kenyan case submitted while eu-del-ke had no officer
    submit_kenya(setup)
    with setup.sessions() as session:
        [found] = unreadable_missions(session)
        assert (found.mission, found.cases, found.has_key) == ("eu-del-ke", 1, False)
        assert "keys mission reseal eu-del-ke" in found.fix
        assert "eu-del-ke" in missions_without_officers(session)
    # When an officer is enrolled, the old case is still sealed to the recovery key only
    enrol(setup, "eu-del-ke", "Ana")
    with setup.sessions() as session:
        assert [m.mission for m in unreadable_missions(session)] == ["eu-del-ke"]
        assert "eu-del-ke" not in missions_without_officers(session)
    # while a case submitted now is readable by her: no more than the old one is counted
    submit_kenya(setup, "d2")
    with setup.sessions() as session:
        assert [(m.mission, m.cases) for m in unreadable_missions(session)] == [("eu-del-ke", 1)]


def test_keys_status_and_readyz_name_the_mission(setup: Setup) -> None:
    submit_kenya(setup)
    with setup.sessions() as session:
        status = key_status(
            session, setup.cipher.keyring(), setup.settings.keys, setup.settings.home, setup.clock()
        )
    assert [u.mission for u in status.unreadable] == ["eu-del-ke"]
    assert any("eu-del-ke holds 1 case(s)" in w and "officers add" in w for w in status.warnings)
    assert status.as_json()["unreadable"][0]["mission"] == "eu-del-ke"
    health = Health(setup.sessions)
    assert health.unreadable_cases() == {"eu-del-ke": 1}
    _, details = health.report(True, unreadable=health.unreadable_cases())
    assert details["unreadable_cases"] == {"eu-del-ke": 1}


def test_revoking_the_last_officer_needs_force(setup: Setup) -> None:
    ana, _ = enrol(setup, "eu-del-ke", "Ana")
    submit_kenya(setup)
    with setup.sessions.begin() as session, pytest.raises(NoReaders, match="--force"):
        officers.revoke(session, ana, setup.clock())
    with setup.sessions() as session:
        assert officers.get_officer(session, ana).status == "active"
        assert unreadable_missions(session) == []
    with setup.sessions.begin() as session:
        officers.revoke(session, ana, setup.clock(), force=True)
    with setup.sessions() as session:
        assert [m.mission for m in unreadable_missions(session)] == ["eu-del-ke"]


def test_revoking_one_of_two_officers_needs_no_force(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    enrol(setup, "eu-del-ke", "Ben", unlock=ana_keys)
    with setup.sessions.begin() as session:
        officers.revoke(session, ana, setup.clock())


def test_transfer_to_a_mission_without_officers_needs_force(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    reference = CaseRef(submit_kenya(setup))
    desk = desks.build_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    with setup.sessions() as session:
        acting = Acting(officers.get_officer(session, ana), ana_keys)
    with pytest.raises(NoReaders, match="no active officer of eu-del-co can open cases"):
        desk.transfer(reference, acting, MissionId("eu-del-co"))
    with setup.sessions() as session:
        assert unreadable_missions(session) == []
    done = desk.transfer(reference, acting, MissionId("eu-del-co"), force=True)
    assert "warning: no officer there can open it yet" in done
    with setup.sessions() as session:
        assert [m.mission for m in unreadable_missions(session)] == ["eu-del-co"]
