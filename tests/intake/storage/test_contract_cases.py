"""Storage contract: cases, events, files, missions, officers and counts, on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from intake.storage import cases, counts, missions, officers
from intake.storage.cases import CaseIds
from intake.storage.counts import ChannelCount, QueueCount
from tests.support import rows
from tests.support.rows import T0


def _two_missions(session: Session) -> None:
    rows.mission(session, "m-b", kind="embassy")
    rows.mission(session, "m-a")


def test_case_by_reference_and_references_by_id(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a", reference="AAAA-1111")
        rows.case(session, "c2", "m-b", reference="BBBB-2222")
    with sessions() as session:
        found = cases.case_by_reference(session, "BBBB-2222")
        assert found is not None and (found.id, found.mission_id) == ("c2", "m-b")
        assert cases.case_by_reference(session, "ZZZZ-0000") is None
        assert cases.case_references_by_id(session, ["c1", "c2", "gone"]) == {
            "c1": "AAAA-1111",
            "c2": "BBBB-2222",
        }
        assert cases.case_references_by_id(session, []) == {}


def test_cases_page_orders_urgent_then_oldest_and_filters(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a", urgency_rank=2, submitted_at=T0)
        rows.case(session, "c2", "m-a", urgency_rank=0, submitted_at=T0 + timedelta(hours=1))
        rows.case(session, "c3", "m-b", urgency_rank=2, submitted_at=T0 - timedelta(hours=1))
        rows.case(session, "c4", "m-a", urgency_rank=0, submitted_at=T0 + timedelta(hours=1))
        rows.case(session, "c5", "m-a", status="closed")
    with sessions() as session:
        everyone = [c.id for c in cases.cases_page(session, None, None, limit=10, offset=0)]
        # Urgent first, then oldest; equal rank and time: by id.
        assert everyone == ["c2", "c4", "c3", "c1", "c5"]
        page = cases.cases_page(session, ["m-a"], ["new"], limit=2, offset=1)
        assert [c.id for c in page] == ["c4", "c1"]
        assert [c.id for c in cases.cases_page(session, None, ["closed"], 10, 0)] == ["c5"]
        assert cases.count_cases_of_missions(session) == 5
        assert cases.count_cases_of_missions(session, ["m-b"]) == 1
        assert cases.count_cases_of_missions(session, ["nowhere"]) == 0


def test_sealed_and_open_cases_of_a_mission(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a", reference="R-1")
        rows.case(session, "c2", "m-a", reference="R-2", status="closed")
        rows.case(session, "c3", "m-a", reference="R-3", sealed=False)
        rows.case(session, "c4", "m-b", reference="R-4")
    with sessions() as session:
        assert {c.id for c in cases.sealed_cases_of_mission(session, "m-a")} == {"c1", "c2"}
        assert cases.open_sealed_cases_of_mission(session, "m-a") == [CaseIds("c1", "R-1")]
        assert cases.open_sealed_cases_of_mission(session, "m-none") == []


def test_claim_case_is_refused_while_someone_else_holds_it(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a")
    later = T0 + timedelta(minutes=5)
    with sessions.begin() as session:
        assert cases.claim_case(session, "c1", "alice", later)
        assert cases.claim_case(session, "c1", "alice", later)  # again: still hers
        assert not cases.claim_case(session, "c1", "bob", later)
        assert not cases.claim_case(session, "missing", "bob", later)
    with sessions() as session:
        claimed = cases.case_by_reference(session, "REF-c1")
        assert claimed is not None
        assert (claimed.claimed_by, claimed.updated_at) == ("alice", later)


def test_events_and_attachments_of_cases(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a")
        rows.case(session, "c2", "m-b")
        rows.case(session, "c3", "m-a")
    with sessions.begin() as session:
        rows.event(session, "e-late", "c1", created_at=T0 + timedelta(hours=2))
        rows.event(session, "e-early", "c1", created_at=T0)
        rows.event(session, "e-other", "c2")
        rows.event(session, "e-3", "c3")
        rows.attachment(session, "f1", case_id="c1")
        rows.attachment(session, "f2", case_id="c2")
    with sessions() as session:
        assert [e.id for e in cases.events_of_case(session, "c1")] == ["e-early", "e-late"]
        assert sorted(cases.event_ids_of_cases(session, ["c1", "c2"])) == [
            "e-early",
            "e-late",
            "e-other",
        ]
        assert cases.event_ids_of_cases(session, []) == []
        assert sorted(e.id for e in cases.events_of_mission(session, "m-a")) == [
            "e-3",
            "e-early",
            "e-late",
        ]
        assert [a.id for a in cases.attachments_of_case(session, "c1")] == ["f1"]
        assert cases.attachments_of_case(session, "c3") == []


def test_missions_by_id_and_by_one_id(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
    with sessions() as session:
        assert [m.id for m in missions.missions_by_id(session)] == ["m-a", "m-b"]
        found = missions.mission_by_id(session, "m-b")
        assert found is not None and found.kind == "embassy"
        assert missions.mission_by_id(session, "m-c") is None


def test_officers_by_mission_active_and_by_id(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
    with sessions.begin() as session:
        rows.officer(session, "zed", "m-a")
        rows.officer(session, "amy", "m-b")
        rows.officer(session, "bob", "m-a", status="revoked")
        rows.officer(session, "ann", "m-a")
    with sessions() as session:
        found = officers.officer_by_id(session, "bob")
        assert found is not None and found.status == "revoked"
        assert officers.officer_by_id(session, "nobody") is None
        every = [(o.mission_id, o.id) for o in officers.officers_by_mission_and_id(session)]
        assert every == [("m-a", "ann"), ("m-a", "bob"), ("m-a", "zed"), ("m-b", "amy")]
        assert [o.id for o in officers.officers_by_mission_and_id(session, "m-b")] == ["amy"]
        assert [o.id for o in officers.active_officers(session)] == ["ann", "zed", "amy"]
        members = officers.active_officers_of_mission(session, "m-a")
        assert sorted(o.id for o in members) == ["ann", "zed"]


def test_grouped_counts(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _two_missions(session)
        rows.case(session, "c1", "m-a")
        rows.case(session, "c2", "m-a")
        rows.case(session, "c3", "m-a", status="closed")
        rows.case(session, "c4", "m-b", kind="assistance")
        rows.conversation(session, "v1", pseudonym_version=1)
        rows.conversation(session, "v2", pseudonym_version=2)
        rows.conversation(session, "v3", pseudonym_version=2)
        rows.delivery(session, "d1", channel="telegram")
        rows.delivery(session, "d2", channel="telegram")
        rows.delivery(session, "d3", channel="matrix")
        rows.processed(session, "old", T0 - timedelta(days=2))
        rows.processed(session, "new", T0)
    with sessions() as session:
        assert sorted(
            counts.count_cases_by_mission_kind_status(session),
            key=lambda c: (c.mission_id, c.status),
        ) == [
            QueueCount("m-a", "threat", "closed", 1),
            QueueCount("m-a", "threat", "new", 2),
            QueueCount("m-b", "assistance", "new", 1),
        ]
        assert sorted(counts.count_deliveries_by_channel(session), key=lambda c: c.channel) == [
            ChannelCount("matrix", 1),
            ChannelCount("telegram", 2),
        ]
        assert counts.count_pseudonym_records_by_version(session) == {
            1: {"conversations": 1},
            2: {"conversations": 2},
        }
        assert counts.count_conversations_on_pseudonym_version(session, 2) == 2
        assert counts.count_conversations_on_pseudonym_version(session, 3) == 0
        assert counts.count_processed_messages_before(session, T0 - timedelta(days=1)) == 1
        assert counts.count_processed_messages_before(session, T0 + timedelta(seconds=1)) == 2
