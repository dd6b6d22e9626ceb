"""Each revision upgrades with data in it: rows written at an older schema survive, and open."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from crypto import Keyring
from intake.storage import migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.records import RecordCipher
from intake.triage.queue import list_cases, open_case


def test_cases_from_0002_upgrade_and_still_open(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0002")
    keyring = Keyring.generate(datetime(2026, 1, 1, tzinfo=UTC))
    cipher = RecordCipher(lambda: keyring)
    dek, wrapped, version = cipher.new_key("case", "c1")
    payload = cipher.seal_json(
        dek, "case", "c1", "payload", {"flow": "threat_report", "answers": {"details": "old"}}
    )
    now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    # Given a case written by the 0002 code (plain SQL: the models have moved on)...
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO missions (id, name, kind, countries, languages, updated_at) "
                "VALUES ('eu-del-ke', 'EU Delegation to Kenya', 'delegation', '[\"KE\"]', '[]', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO cases (id, reference, mission_id, kind, urgency, urgency_rank, status, flagged, "
                "submitted_at, updated_at, dek_wrapped, kek_version, payload_ct) VALUES ('c1', 'HRD-AAAA-BBBB', "
                "'eu-del-ke', 'threat_report', 'days', 1, 'new', false, :now, :now, :wrapped, :version, :payload)"
            ),
            {"now": now, "wrapped": wrapped, "version": version, "payload": payload},
        )
    # ...when the schema reaches head...
    migrate.upgrade(engine)
    # ...it is still there, unclaimed, and still opens with the keyring (it predates sealing).
    with make_session_factory(engine)() as session:
        opened = open_case(session, cipher, "HRD-AAAA-BBBB")
        assert opened.payload["answers"]["details"] == "old"
        assert opened.case.claimed_by is None and opened.case.status == "new"
    engine.dispose()


def test_cases_from_0006_upgrade_to_0009_unanswered_and_without_country(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0006")
    now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    # Given a case and its audit entry written before the web console...
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO missions (id, name, kind, countries, languages, updated_at) "
                "VALUES ('eu-del-ke', 'EU Delegation to Kenya', 'delegation', '[\"KE\"]', '[]', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO cases (id, reference, mission_id, kind, urgency, urgency_rank, status, flagged, "
                "submitted_at, updated_at, payload_ct) VALUES ('c1', 'HRD-AAAA-CCCC', "
                "'eu-del-ke', 'threat_report', 'days', 1, 'in_progress', false, :now, :now, :payload)"
            ),
            {"now": now, "payload": b"sealed"},
        )
    # ...when the schema reaches 0009...
    migrate.upgrade(engine, "0009")
    # ...the case lists as before: no country known (it is sealed), not answered.
    with make_session_factory(engine)() as session:
        [case] = list_cases(session, ["eu-del-ke"])
        assert case.reference == "HRD-AAAA-CCCC" and case.country is None and not case.answered
        count = session.execute(text("SELECT count(*) FROM web_factors")).scalar()
        assert count == 0
    engine.dispose()


def test_0011_adds_checkins_beside_existing_conversations(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0006")
    now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    # Given a conversation written by the 0006 code,
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO missions (id, name, kind, countries, languages, updated_at) "
                "VALUES ('eu-del-ke', 'EU Delegation to Kenya', 'delegation', '[\"KE\"]', '[]', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, sender_pseudonym, pseudonym_version, dek_wrapped, "
                "kek_version, chat_ct, state_ct, created_at, last_seen_at) "
                "VALUES ('conv1', 'console', 'p', 1, :b, 1, :b, :b, :now, :now)"
            ),
            {"b": b"x", "now": now},
        )
    # when upgraded, it is still there and can be checked on; deleting it ends its check-in.
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO checkins (id, conversation_id, channel, mission_id, state, mode, interval_minutes, "
                "due_at, started_at, updated_at, generation, word_salt, word_params, word_digest, duress_digest, "
                "dek_wrapped, kek_version, link_ct, case_payload_ct, case_seals) VALUES ('k1', 'conv1', 'console', "
                "'eu-del-ke', 'scheduled', 'interval', 120, :now, :now, :now, 0, :b, '{}', :b, :b, :b, 1, :b, :b, :b)"
            ),
            {"b": b"x", "now": now},
        )
        assert connection.execute(text("SELECT count(*) FROM checkins")).scalar() == 1
        connection.execute(text("DELETE FROM conversations WHERE id = 'conv1'"))
        assert connection.execute(text("SELECT count(*) FROM checkins")).scalar() == 0
def test_conversations_from_0006_upgrade_open_and_move_to_a_draft_epoch(database_url: str) -> None:
    from intake.storage.conversation_record import new_record, open_turn, save_turn
    from intake.storage.models import Conversation

    engine = make_engine(database_url)
    migrate.upgrade(engine, "0006")
    keyring = Keyring.generate(datetime(2026, 1, 1, tzinfo=UTC))
    cipher = RecordCipher(lambda: keyring)
    dek, wrapped, version = cipher.new_key("conversation", "v1")
    state = cipher.seal_json(dek, "conversation", "v1", "state", {**new_record({}), "cases": ["R"]})
    chat = cipher.seal(dek, "conversation", "v1", "chat", b"chat-1")
    now = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    # Given a conversation written by the 0006 code, its key under a KEK, a case list in it...
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, channel, sender_pseudonym, pseudonym_version, "
                "dek_wrapped, kek_version, chat_ct, state_ct, created_at, last_seen_at) VALUES "
                "('v1', 'telegram', 'p1', 1, :wrapped, :version, :chat, :state, :now, :now)"
            ),
            {"wrapped": wrapped, "version": version, "chat": chat, "state": state, "now": now},
        )
    # ...when the schema reaches head, it still opens (the case list is dropped on reading)...
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        conversation = session.get(Conversation, "v1")
        assert conversation is not None and conversation.draft_epoch is None
        turn = open_turn(cipher, conversation)
        assert "cases" not in turn.record
        # ...and its next save moves it under the current draft epoch, off the KEK.
        save_turn(cipher, turn)
    with sessions() as session:
        moved = session.get(Conversation, "v1")
        assert moved is not None and (moved.kek_version, moved.draft_epoch) == (None, 1)
        assert open_turn(cipher, moved).record["flow"] == {}
    engine.dispose()
