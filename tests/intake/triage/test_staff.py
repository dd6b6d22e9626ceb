"""The officer desk: one passphrase policy, refusals before prompts, revocation rotates by default."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.core import desks
from intake.errors import NoKeyAtHand, OfficerRefused, PassphraseRefused, Refused
from intake.keys.holders import current_mission_key
from intake.storage import audit
from intake.storage.models import AuditEntry
from intake.triage.staff import StaffDesk, check_new_passphrase
from tests.conftest import CHEAP_KDF
from tests.support.defender import threat_report
from tests.support.keys import submit
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"


def desk(setup: Setup) -> StaffDesk:
    return desks.build_staff_desk(
        setup.settings, setup.sessions, setup.cipher, setup.clock, kdf=CHEAP_KDF
    )


def actions(setup: Setup) -> list[tuple[str, str, dict[str, object]]]:
    with setup.sessions() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        return [(row.action, row.subject, row.detail) for row in rows]


def test_the_passphrase_policy_is_one_rule_counted_in_characters() -> None:
    check_new_passphrase("ééééééééééé é".encode())  # 12 characters, 24 bytes
    for weak in (b"short", b"eleven char", b"            x", b"\xff" * 20):
        with pytest.raises(PassphraseRefused):
            check_new_passphrase(weak)


def test_enrolment_is_refused_before_any_passphrase_is_asked(setup: Setup) -> None:
    staff = desk(setup)
    with pytest.raises(OfficerRefused, match="no mission"):
        staff.check_enrolment("eu-del-xx", unlocker_named=False)
    staff.check_enrolment("eu-del-ke", unlocker_named=False)  # no key yet: the first officer
    staff.enrol("eu-del-ke", "Ana", PASSPHRASE, None)
    with pytest.raises(NoKeyAtHand, match="--by"):
        staff.check_enrolment("eu-del-ke", unlocker_named=False)
    staff.check_enrolment("eu-del-ke", unlocker_named=True)
    with pytest.raises(PassphraseRefused):
        staff.enrol("eu-del-ke", "Ben", b"too short", setup.recovery)


def test_revocation_rotates_and_reseals_by_default(setup: Setup) -> None:
    staff = desk(setup)
    ana = staff.enrol("eu-del-ke", "Ana", PASSPHRASE, None).officer_id
    ben = staff.enrol("eu-del-ke", "Ben", PASSPHRASE, setup.recovery).officer_id
    submit(setup, threat_report("Kenya"))
    with pytest.raises(NoKeyAtHand, match="--keep-mission-key"):
        staff.revocation_plan(ben, None, recovery=False, keep_mission_key=False)
    with pytest.raises(OfficerRefused, match="cannot open"):
        staff.revocation_plan(ben, ben, recovery=False, keep_mission_key=False)
    staff.revocation_plan(ben, ana, recovery=False, keep_mission_key=False)

    with pytest.raises(Refused, match="wrong passphrase"):
        staff.unlock(ana, b"not her passphrase", "officer.revoke", ben)
    keys = staff.unlock(ana, PASSPHRASE, "officer.revoke", ben)
    result = staff.revoke(ben, keys)
    assert (result.mission_version, result.members, result.resealed) == (2, 1, 1)
    with setup.sessions() as session:
        assert current_mission_key(session, "eu-del-ke") is not None
        assert current_mission_key(session, "eu-del-ke")[0] == 2  # type: ignore[index]
    logged = actions(setup)
    assert ("refused", ben) == logged[-4][:2] and "wrong passphrase" in str(logged[-4][2])
    assert [a for a, _, _ in logged[-3:]] == [
        "officer.revoke",
        "key.mission.rotate",
        "key.mission.reseal",
    ]
    assert logged[-3][2]["mission_key"] == "rotated"

    with pytest.raises(OfficerRefused, match="already revoked"):
        staff.revocation_plan(ben, ana, recovery=False, keep_mission_key=True)
    with pytest.raises(OfficerRefused, match="already revoked"):
        staff.revoke(ben, keys)
    assert actions(setup)[-1][0] == "refused"
    with setup.sessions() as session:
        audit.verify(session, None, checkpoint_required=False)


def test_a_benign_departure_keeps_the_mission_key_and_says_so(setup: Setup) -> None:
    staff = desk(setup)
    staff.enrol("eu-del-ke", "Ana", PASSPHRASE, None)
    ben = staff.enrol("eu-del-ke", "Ben", PASSPHRASE, setup.recovery).officer_id
    result = staff.revoke(ben, None, keep_mission_key=True, reason="benign departure")
    assert result.mission_version is None and result.seals_deleted == 1
    action, subject, detail = actions(setup)[-1]
    assert (action, subject) == ("officer.revoke", ben)
    assert detail["mission_key"] == "kept" and detail["reason"] == "benign departure"
    with setup.sessions() as session:
        assert current_mission_key(session, "eu-del-ke")[0] == 1  # type: ignore[index]


def test_passphrase_changes_check_the_new_one_first(setup: Setup) -> None:
    staff = desk(setup)
    ana = staff.enrol("eu-del-ke", "Ana", PASSPHRASE, None).officer_id
    with pytest.raises(PassphraseRefused):
        staff.change_passphrase(ana, b"wrong but unchecked", b"short")
    with pytest.raises(PassphraseRefused):
        staff.rotate_key(ana, b"wrong but unchecked", b"short")
    with pytest.raises(Refused, match="wrong passphrase"):
        staff.change_passphrase(ana, b"wrong passphrase!", b"a new long passphrase")
    staff.change_passphrase(ana, PASSPHRASE, b"a new long passphrase")
    key_id, moved = staff.rotate_key(ana, b"a new long passphrase", None)
    assert moved == 1 and key_id
    assert [a for a, _, _ in actions(setup)[-3:]] == [
        "refused",
        "officer.passwd",
        "officer.rotate_key",
    ]
