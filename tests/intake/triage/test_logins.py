"""The login desk and the officer desks with an officer id as typed, on SQLite and PostgreSQL.

What is typed as an officer id may be anything (a passphrase typed into the
wrong field, a paste gone wrong): it is bounded before any lookup, refused
like a wrong passphrase, and written to the audit log only if it is an
officer's id (else as `unknown-id`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crypto import KdfParams
from intake.core import desks
from intake.errors import LoginRefused, Refused
from intake.storage.audit import AuditTrail
from intake.storage.models import AuditEntry, WebLockout
from intake.triage.lockout import Lockout
from intake.triage.logins import REFUSED, LoginDesk
from intake.triage.officers import UNKNOWN_ID
from tests.conftest import CHEAP_KDF
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"
# Not ids enrolment could make: longer than an audit column, wrong shape, not ASCII.
NOT_IDS = ("x" * 93, "ana-officer-" + "0" * 200, "é" * 120, "Ana Officer", "")


def _logins(setup: Setup) -> LoginDesk:
    return desks.build_logins(setup.settings, setup.sessions, setup.cipher, setup.clock, CHEAP_KDF)


def _entries(setup: Setup, after: int = 0) -> list[AuditEntry]:
    with setup.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.seq > after)))


def _last_seq(setup: Setup) -> int:
    entries = _entries(setup)
    return entries[-1].seq if entries else 0


def test_what_is_not_an_officer_id_is_refused_like_a_wrong_passphrase(setup: Setup) -> None:
    ana, _ = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    logins = _logins(setup)
    with pytest.raises(LoginRefused) as wrong:
        logins.unlock(ana, b"a wrong guess")
    before = _last_seq(setup)
    for typed in NOT_IDS:
        with pytest.raises(LoginRefused) as refused:
            logins.unlock(typed, PASSPHRASE)
        assert str(refused.value) == str(wrong.value) == REFUSED
        assert refused.value.retry_after is None
    entries = _entries(setup, before)
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        (f"officer:{UNKNOWN_ID}", "refused", UNKNOWN_ID)
    ] * len(NOT_IDS)
    assert {e.detail["attempted"] for e in entries} == {"web.login.passphrase"}
    # Ana's own id is untouched by all of it: she still logs in.
    assert logins.unlock(ana, PASSPHRASE).officer.id == ana


def test_an_id_is_recorded_only_when_it_is_an_officers(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    ben, _ = enrol(setup, "eu-del-ke", "Ben Officer", PASSPHRASE, unlock=ana_keys)
    staff = desks.build_staff_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    staff.revoke(ben, None, keep_mission_key=True)
    logins = _logins(setup)
    before = _last_seq(setup)
    typed_unknown = "nobody-officer-0000"  # shaped like an id, nobody's
    typed_text = "my secret passphrase"  # typed into the id field by mistake
    for typed in (ana, ben, typed_unknown, typed_text):
        with pytest.raises(LoginRefused, match=REFUSED):
            logins.unlock(typed, b"a wrong guess")
    entries = _entries(setup, before)
    assert [(e.actor, e.subject, e.detail["reason"]) for e in entries] == [
        (f"officer:{ana}", ana, "wrong passphrase"),
        (f"officer:{ben}", ben, f"officer {ben} is revoked"),
        (f"officer:{UNKNOWN_ID}", UNKNOWN_ID, "no such officer"),
        (f"officer:{UNKNOWN_ID}", UNKNOWN_ID, "not an officer id"),
    ]
    # Nothing of what was typed, in any field of any entry.
    kept = repr([(e.actor, e.action, e.subject, e.detail) for e in _entries(setup)])
    assert "nobody" not in kept and "secret" not in kept


def test_the_staff_desk_bounds_a_typed_id_too(setup: Setup) -> None:
    staff = desks.build_staff_desk(
        setup.settings, setup.sessions, setup.cipher, setup.clock, kdf=CHEAP_KDF
    )
    enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    before = _last_seq(setup)
    typed = "x" * 200
    unknown = "nobody-officer-0000"
    attempts = [
        attempt
        for officer in (typed, unknown)
        for attempt in (
            lambda o=officer: staff.unlock(o, PASSPHRASE, "officer.enrol", "eu-del-ke"),
            lambda o=officer: staff.revoke(o, None, keep_mission_key=True),
            lambda o=officer: staff.rotate_key(o, PASSPHRASE, None),
            lambda o=officer: staff.change_passphrase(o, PASSPHRASE, b"another passphrase, long"),
        )
    ]
    for attempt in attempts:
        with pytest.raises(Refused) as refused:
            attempt()
        assert "xxx" not in str(refused.value) and "nobody" not in str(refused.value)
    entries = _entries(setup, before)
    assert len(entries) == len(attempts) and {e.action for e in entries} == {"refused"}
    kept = repr([(e.actor, e.subject, e.detail) for e in entries])
    assert "xxx" not in kept and "nobody" not in kept and UNKNOWN_ID in kept


def test_a_login_with_no_officer_behind_its_id_derives_a_key_all_the_same(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    ben, _ = enrol(setup, "eu-del-ke", "Ben Officer", PASSPHRASE, unlock=ana_keys)
    staff = desks.build_staff_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    staff.revoke(ben, None, keep_mission_key=True)
    logins = _logins(setup)
    # The decoy is a real wrapped key, at the cost the officers' keys have.
    assert logins.decoy.params == CHEAP_KDF
    # Given a wrong passphrase for a real id: the officer's own key is tried, not the decoy.
    with pytest.raises(LoginRefused):
        logins.unlock(ana, b"a wrong guess")
    assert logins.decoy.opened == 0
    # When the id is unknown, revoked or no id at all, the passphrase is tried on the decoy.
    for typed in ("nobody-officer-0000", ben, "x" * 93, "correct horse"):
        with pytest.raises(LoginRefused, match=REFUSED):
            logins.unlock(typed, PASSPHRASE)
    assert logins.decoy.opened == 4
    # And a login that works opens no decoy.
    logins.unlock(ana, PASSPHRASE)
    assert logins.decoy.opened == 4


def test_the_decoy_costs_what_an_officer_key_costs_in_production(setup: Setup) -> None:
    logins = desks.build_logins(setup.settings, setup.sessions, setup.cipher, setup.clock)
    assert logins.decoy.params == KdfParams() and logins.decoy.params.meets_production_floor


def _answers(logins: LoginDesk, setup: Setup, typed: str) -> list[tuple[str, int | None]]:
    """What seven wrong passphrases for `typed` are answered, then one more after each lock."""
    answers = []
    for wait in (0, 0, 0, 0, 0, 0, 0, 61, 0, 121):
        setup.clock.advance(seconds=wait)
        with pytest.raises(LoginRefused) as refused:
            logins.unlock(typed, b"a wrong guess")
        answers.append((str(refused.value), refused.value.retry_after))
    return answers


def test_an_id_of_nobody_is_locked_out_as_an_officers_is(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    ben, _ = enrol(setup, "eu-del-ke", "Ben Officer", PASSPHRASE, unlock=ana_keys)
    staff = desks.build_staff_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    staff.revoke(ben, None, keep_mission_key=True)
    logins = _logins(setup)
    locked = "too many failed attempts: try again in {} seconds"
    # A real id: five free failures, then a minute's lock, then two minutes'.
    expected = _answers(logins, setup, ana)
    assert expected == [
        *[(REFUSED, None)] * 5,
        (locked.format(61), 61),
        (locked.format(61), 61),
        (REFUSED, None),
        (locked.format(121), 121),
        (REFUSED, None),
    ]
    before = _last_seq(setup)
    # An id nobody has, a revoked one, and typed text that is no id: answered alike.
    for typed in ("nobody-officer-0000", ben, "my secret passphrase", "x" * 93):
        assert _answers(logins, setup, typed) == expected, typed
    entries = _entries(setup, before)
    locks = [e.subject for e in entries if e.action == "web.locked"]
    assert locks == [UNKNOWN_ID] * 3 + [ben] * 3 + [UNKNOWN_ID] * 6
    kept = repr([(e.actor, e.subject, e.detail) for e in entries])
    assert "nobody" not in kept and "secret" not in kept and "xxx" not in kept
    assert logins.unlock(ana, PASSPHRASE).officer.id == ana  # her lock has run out


def test_the_ids_of_nobody_counted_are_bounded(setup: Setup) -> None:
    lockout = Lockout(setup.sessions, AuditTrail(setup.sessions, None), setup.clock, 3)
    for n in range(5):
        with pytest.raises(LoginRefused):
            lockout.failed(f"nobody-{n}", "passphrase", "no such officer")
    assert lockout.strangers == 3


def test_a_long_run_of_failures_stays_locked_an_hour(setup: Setup) -> None:
    ana, _ = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    with setup.sessions.begin() as session:
        session.add(WebLockout(officer_id=ana, failures=99, updated_at=setup.clock()))
    with pytest.raises(LoginRefused, match=REFUSED):
        _logins(setup).unlock(ana, b"a wrong guess")  # the 100th: 2**95 minutes overflowed
    with setup.sessions() as session:
        row = session.get(WebLockout, ana)
        assert row is not None and row.failures == 100
        assert row.locked_until == setup.clock() + timedelta(hours=1)
