"""Storage contract: safety check-ins (due ones locked for one worker, a conversation's, listings)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from intake.storage import checkins
from intake.storage.models import Checkin
from tests.support import rows
from tests.support.rows import BLOB, T0


def _checkin(
    session: Session,
    checkin_id: str,
    conversation_id: str,
    mission_id: str,
    state: str,
    due_at: datetime | None,
) -> None:
    rows.conversation(session, conversation_id)
    session.add(
        Checkin(
            id=checkin_id,
            conversation_id=conversation_id,
            channel="telegram",
            mission_id=mission_id,
            state=state,
            mode="interval",
            interval_minutes=120,
            due_at=due_at,
            started_at=T0,
            updated_at=T0,
            generation=0,
            word_salt=BLOB,
            word_params={},
            word_digest=BLOB,
            duress_digest=BLOB,
            dek_wrapped=BLOB,
            kek_version=1,
            link_ct=BLOB,
            case_payload_ct=BLOB,
            case_seals=b"[]",
        )
    )
    session.flush()


def test_due_check_ins_oldest_first_and_only_those_to_act_on(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.mission(session, "m-b")
        _checkin(session, "k-late", "v1", "m-a", checkins.PROMPTED, T0 - timedelta(minutes=5))
        _checkin(session, "k-due", "v2", "m-a", checkins.SCHEDULED, T0)
        _checkin(session, "k-later", "v3", "m-b", checkins.SCHEDULED, T0 + timedelta(hours=1))
        _checkin(session, "k-missed", "v4", "m-b", checkins.MISSED, None)
        rows.case(session, "c1", "m-a", reference="R-1")
    with sessions.begin() as session:
        assert [c.id for c in checkins.due_checkins(session, T0, 10)] == ["k-late", "k-due"]
        assert [c.id for c in checkins.due_checkins(session, T0, 1)] == ["k-late"]
        checkins.load_conversations(session, ["v1", "v2"])
        checkins.load_conversations(session, [])
        checkins.load_cases(session, ["c1", "c-none"])
        checkins.load_cases(session, [])
        found = checkins.checkin_of_conversation(session, "v3")
        assert found is not None and found.id == "k-later"
        assert checkins.checkin_of_conversation(session, "v-none") is None
        assert checkins.has_checkin(session, "v4") and not checkins.has_checkin(session, "v9")
        case = checkins.case_by_id(session, "c1")
        assert case is not None and case.reference == "R-1"
        assert checkins.case_by_id(session, "c-none") is None
    with sessions() as session:
        listed = checkins.list_checkins(session)
        assert [c.id for c in listed] == ["k-missed", "k-late", "k-due", "k-later"]
        assert [c.id for c in checkins.list_checkins(session, ["m-a"])] == ["k-late", "k-due"]
        assert checkins.count_checkins(session) == {
            ("m-a", "prompted"): 1,
            ("m-a", "scheduled"): 1,
            ("m-b", "scheduled"): 1,
            ("m-b", "missed"): 1,
        }
    with sessions.begin() as session:
        row = checkins.checkin_of_conversation(session, "v1")
        assert row is not None
        checkins.delete_checkin(session, row)
    with sessions() as session:
        assert not checkins.has_checkin(session, "v1")
