"""Storage contract: the officers' queue pages, statistics rows, case timelines and the web
console's login rows, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from intake.storage import audit, queue_pages, web_login
from intake.storage.models import WebFactor
from intake.storage.queue_pages import QueueFilter
from tests.support import rows
from tests.support.rows import T0


def _queue(session: Session) -> None:
    rows.mission(session, "m-a")
    rows.mission(session, "m-b")
    rows.case(session, "c1", "m-a", reference="AAAA-0001", urgency_rank=0).country = "KE"
    rows.case(session, "c2", "m-a", reference="AAAA-0002", claimed_by="ana").country = "KE"
    rows.case(session, "c3", "m-a", reference="BBBB-0003", status="closed").country = "UA"
    answered = rows.case(session, "c4", "m-a", reference="AAAA-0004", kind="assistance")
    answered.answered_at = T0
    rows.case(session, "c5", "m-b", reference="CCCC-0005")


def test_queue_pages_filter_and_hide_closed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _queue(session)
    with sessions() as session:

        def page(**criteria: object) -> list[str]:
            wanted = QueueFilter(missions=["m-a"], **criteria)  # type: ignore[arg-type]
            return [c.id for c in queue_pages.queue_cases(session, wanted, limit=10, offset=0)]

        assert page() == ["c1", "c2", "c4"]
        assert page(include_closed=True) == ["c1", "c2", "c3", "c4"]
        assert page(statuses=["closed"]) == ["c3"]
        assert page(countries=["KE"]) == ["c1", "c2"]
        assert page(kinds=["assistance"]) == ["c4"]
        assert page(claimed_by="ana") == ["c2"]
        assert page(answered=True) == ["c4"]
        assert page(reference="AAAA-000") == ["c1", "c2", "c4"]
        assert page(reference="A%") == []  # a search is a prefix, not a pattern
        assert queue_pages.queue_count(session, QueueFilter(missions=["m-a"])) == 3
        stats = queue_pages.stat_rows(session, "m-a")
        assert sorted(r.status for r in stats) == ["closed", "new", "new", "new"]


def test_case_audit_entries_are_oldest_first(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        audit.append(session, T0, "service", "case.submitted", "AAAA-0001")
        audit.append(session, T0, "service", "case.submitted", "OTHER")
        audit.append(session, T0 + timedelta(minutes=1), "officer:ana", "case.ack", "AAAA-0001")
    with sessions() as session:
        entries = queue_pages.case_audit_entries(session, "AAAA-0001")
        assert [e.action for e in entries] == ["case.submitted", "case.ack"]


def test_login_rows(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.officer(session, "ana", "m-a")
    with sessions.begin() as session:
        web_login.put_enrolment(session, "ana", "h1", T0 + timedelta(days=3), T0)
        web_login.put_enrolment(session, "ana", "h2", T0 + timedelta(days=3), T0)  # replaces
        web_login.add_factor(
            session,
            WebFactor(
                id="f1",
                officer_id="ana",
                kind="webauthn",
                credential_id="cred",
                secret_ct=b"sealed",
                counter=0,
                mac="m",
                created_at=T0,
            ),
        )
        lock = web_login.lockout_of(session, "ana", T0)
        lock.failures, lock.locked_until = 5, T0 + timedelta(minutes=1)
    with sessions.begin() as session:
        enrolment = web_login.enrolment_of(session, "ana")
        assert enrolment is not None and enrolment.code_hash == "h2"
        assert [f.id for f in web_login.factors_of(session, "ana", "webauthn")] == ["f1"]
        assert web_login.factors_of(session, "ana", "totp") == []
        assert web_login.factor_by_credential(session, "ana", "cred") is not None
        assert web_login.locked_until(session, "ana") == T0 + timedelta(minutes=1)
        web_login.delete_enrolment(session, "ana")
        assert web_login.delete_factors(session, "ana") == 1
    with sessions() as session:
        assert web_login.enrolment_of(session, "ana") is None
        assert web_login.locked_until(session, "nobody") is None
