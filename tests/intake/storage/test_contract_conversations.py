"""Storage contract: conversations, deliveries, retention, usage counters, the engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake.storage import audit, conversations, deliveries, engine, key_usage, purge
from intake.storage.models import Attachment, Case, CaseEvent, Conversation, ProcessedMessage
from intake.storage.records import RecordCipher
from tests.support import rows
from tests.support.rows import T0


def test_messages_are_claimed_once_per_digest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert conversations.claim_message(session, "telegram", "d1", T0)
        assert not conversations.claim_message(session, "telegram", "d1", T0)
        assert conversations.claim_message(session, "matrix", "d1", T0)  # per channel
    with sessions() as session:
        assert conversations.message_seen(session, "telegram", ["dx", "d1"])
        assert not conversations.message_seen(session, "signal", ["d1"])


def test_conversations_drafts_and_their_cases(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.conversation(session, "v1", channel="telegram", pseudonym="p-old")
        rows.case(session, "c1", "m-a", reference="R-1", submitted_at=T0 + timedelta(hours=1))
        rows.case(session, "c2", "m-a", reference="R-2", submitted_at=T0)
        rows.attachment(session, "f1", conversation_id="v1", kek_version=1)
        rows.attachment(session, "f2", conversation_id="v1", kek_version=1)
        rows.attachment(session, "f3", conversation_id="v1", kek_version=1)
        rows.attachment(session, "f-case", case_id="c1")
    with sessions() as session:
        found = conversations.find_conversation(session, "telegram", ["p-new", "p-old"])
        assert found is not None and found.id == "v1"
        assert conversations.find_conversation(session, "matrix", ["p-old"]) is None
        assert sorted(a.id for a in conversations.draft_attachments(session, "v1")) == [
            "f1",
            "f2",
            "f3",
        ]
        found_case = conversations.case_by_reference(session, "R-1")
        assert found_case is not None and found_case.id == "c1"
        assert conversations.case_by_reference(session, "R-9") is None
        assert conversations.reference_taken(session, "R-1")
        assert not conversations.reference_taken(session, "R-9")
    with sessions.begin() as session:
        assert conversations.delete_draft_attachments(session, "v1", ["f1"]) == 1
        conversations.flag_cases(session, ["R-2"], T0 + timedelta(days=1))
    with sessions.begin() as session:
        assert conversations.delete_draft_attachments(session, "v1") == 2
    with sessions() as session:
        assert conversations.draft_attachments(session, "v1") == []
        assert session.get(Attachment, "f-case") is not None  # a case's file is no draft
        flagged = session.get(Case, "c2")
        assert flagged is not None and flagged.flagged
        assert flagged.updated_at == T0 + timedelta(days=1)
        unflagged = session.get(Case, "c1")
        assert unflagged is not None and not unflagged.flagged


def test_drafts_under_epochs_are_rewrapped_shredded_and_destroyed(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.case(session, "c1", "m-a", reference="R-1")
        for conversation_id, epoch in (("v-old", 1), ("v-new", 2), ("v-legacy", None)):
            rows.conversation(session, conversation_id, pseudonym=f"p-{conversation_id}")
            row = session.get(Conversation, conversation_id)
            assert row is not None
            row.kek_version, row.draft_epoch = (None, epoch) if epoch else (1, None)
        for attachment_id, conversation_id, epoch in (
            ("f-old", "v-old", 1),
            ("f-new", "v-new", 2),
            ("f-new-stale", "v-new", 1),
        ):
            rows.attachment(session, attachment_id, conversation_id=conversation_id)
            file_row = session.get(Attachment, attachment_id)
            assert file_row is not None
            file_row.dek_wrapped, file_row.draft_epoch = b"wrapped", epoch
        rows.attachment(session, "f-case", case_id="c1")
    with sessions() as session:
        # The draft files of v-new not yet under epoch 2 (to re-wrap at its next save).
        off = conversations.draft_files_off_epoch(session, "v-new", 2)
        assert [a.id for a in off] == ["f-new-stale"]
    with sessions.begin() as session:
        # Epoch 1's key destroyed: what it wrapped goes (the legacy KEK row and cases stay).
        assert conversations.delete_drafts_before_epoch(session, 2) == (1, 2)
    with sessions() as session:
        assert session.get(Conversation, "v-old") is None
        assert session.get(Conversation, "v-legacy") is not None
        assert session.get(Attachment, "f-case") is not None
    with sessions.begin() as session:
        conversations.overwrite_and_delete_attachment(session, "f-new")
        conversations.delete_conversation(session, "v-legacy")
    with sessions() as session:
        assert session.get(Attachment, "f-new") is None
        assert session.get(Conversation, "v-legacy") is None
        assert session.get(Conversation, "v-new") is not None


def test_a_conversation_to_update_is_read_as_committed_then_kept(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows.conversation(session, "v1", channel="telegram", pseudonym="p-old")
    with sessions.begin() as session, session.no_autoflush:  # as the service batches
        # Given a copy this session read before another transaction changed the row,
        stale = conversations.find_conversation(session, "telegram", ["p-old"])
        assert stale is not None and stale.state_ct != b"theirs"
        with sessions.begin() as other:
            changed = other.get(Conversation, "v1")
            assert changed is not None
            changed.state_ct = b"theirs"
        # the row to update is what was committed (the lock is taken by this read),
        locked = conversations.conversation_to_update(session, "telegram", ["p-new", "p-old"])
        assert locked is stale and locked.state_ct == b"theirs"
        # and once held, this transaction's unwritten changes stay (a batch's later message).
        locked.state_ct = b"ours"
        again = conversations.conversation_to_update(session, "telegram", ["p-new", "p-old"])
        assert again is locked and again.state_ct == b"ours"
        assert conversations.conversation_to_update(session, "matrix", ["p-old"]) is None
        by_id = conversations.conversation_by_id_to_update(session, "v1")
        assert by_id is locked
        assert conversations.conversation_by_id_to_update(session, "v-none") is None
        # A conversation the transaction creates is held as well: changed, then asked for,
        # it keeps its change.
        created = Conversation(
            id="v2",
            channel="matrix",
            sender_pseudonym="p-2",
            pseudonym_version=1,
            dek_wrapped=b"wrapped",
            chat_ct=b"chat",
            state_ct=b"first",
            created_at=T0,
            last_seen_at=T0,
        )
        conversations.add_conversation(session, created)
        created.state_ct = b"second"
        assert conversations.conversation_to_update(session, "matrix", ["p-2"]) is created
        assert created.state_ct == b"second"
    with sessions() as session:
        kept = session.get(Conversation, "v1")
        assert kept is not None and kept.state_ct == b"ours"
        second = session.get(Conversation, "v2")
        assert second is not None and second.state_ct == b"second"


def test_what_a_transaction_held_is_read_afresh_by_the_next_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows.conversation(session, "v1", channel="telegram", pseudonym="p-1")
    with sessions() as session, session.no_autoflush:
        # Given a session that held the row in one transaction,
        first = conversations.conversation_to_update(session, "telegram", ["p-1"])
        assert first is not None
        session.commit()
        # when another transaction changes it before the session's next one,
        with sessions.begin() as other:
            changed = other.get(Conversation, "v1")
            assert changed is not None
            changed.state_ct = b"theirs"
        # that next one locks and reads it again: its locks ended with the first.
        again = conversations.conversation_to_update(session, "telegram", ["p-1"])
        assert again is not None and again.state_ct == b"theirs"
        session.rollback()


def test_duress_marks_name_a_pseudonym_only(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        conversations.mark_duress(session, "telegram", "p-1", T0)
        conversations.mark_duress(session, "telegram", "p-1", T0 + timedelta(hours=1))  # once
    with sessions() as session:
        assert conversations.duress_marked(session, "telegram", ["p-0", "p-1"])
        assert not conversations.duress_marked(session, "matrix", ["p-1"])
        assert not conversations.duress_marked(session, "telegram", ["p-2"])


def _sealed_conversation(session: Session, cipher: RecordCipher, chat: str) -> None:
    dek, wrapped, version = cipher.new_key("conversation", "v-chat")
    session.add(
        Conversation(
            id="v-chat",
            channel="matrix",
            sender_pseudonym="p-chat",
            pseudonym_version=1,
            dek_wrapped=wrapped,
            kek_version=version,
            chat_ct=cipher.seal(dek, "conversation", "v-chat", "chat", chat.encode()),
            state_ct=b"",
            created_at=T0,
            last_seen_at=T0,
        )
    )


def test_deliveries_queued_claimed_released_and_forgotten(
    sessions: sessionmaker[Session], cipher: RecordCipher
) -> None:
    with sessions.begin() as session:
        _sealed_conversation(session, cipher, "!room:example.org")
        assert deliveries.conversation_chat(session, cipher, "v-chat") == (
            "matrix",
            "!room:example.org",
        )
        with pytest.raises(LookupError):
            deliveries.conversation_chat(session, cipher, "gone")
        first = deliveries.queue_delivery(
            session,
            cipher,
            channel="matrix",
            kind="reply",
            chat="!room:example.org",
            text="hello",
            conversation_id="v-chat",
            now=T0,
        )
        second = deliveries.queue_delivery(
            session,
            cipher,
            channel="matrix",
            kind="notify",
            chat="@officer:example.org",
            text="new case",
            conversation_id=None,
            now=T0 + timedelta(seconds=1),
        )
    with sessions.begin() as session:
        claimed = deliveries.claim_deliveries(session, cipher, "matrix", T0, limit=10)
        assert [(d.id, d.text, d.attempts) for d in claimed] == [
            (first, "hello", 1),
            (second, "new case", 1),
        ]
        # Claimed: no other worker takes them until the claim lapses or is released.
        assert deliveries.claim_deliveries(session, cipher, "matrix", T0, limit=10) == []
        deliveries.release_deliveries(session, [second])
        again = deliveries.claim_deliveries(session, cipher, "matrix", T0, limit=10)
        assert [(d.id, d.chat, d.attempts) for d in again] == [(second, "@officer:example.org", 2)]
        deliveries.forget_deliveries(session, [first, second])
    with sessions.begin() as session:
        later = T0 + deliveries.CLAIM_HOLD + timedelta(seconds=1)
        assert deliveries.claim_deliveries(session, cipher, "matrix", later) == []


def test_encryption_counters_add_up_per_version(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        key_usage.add_encryptions(session, {1: 5, 2: 0}, T0)
    with sessions.begin() as session:
        key_usage.add_encryptions(session, {1: 2, 3: 4}, T0)
        key_usage.add_encryptions(session, {7: 1}, T0, kind="other")
    with sessions() as session:
        assert key_usage.encryptions(session) == {1: 7, 3: 4}
        assert key_usage.encryptions(session, kind="other") == {7: 1}


def test_audit_entries_listed_newest_first(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for n in range(3):
            audit.append(session, T0 + timedelta(minutes=n), "operator", "case.note", f"R-{n % 2}")
    with sessions() as session:
        assert audit.count(session) == 3
        assert [e.seq for e in audit.list_entries(session)] == [3, 2, 1]
        assert [e.seq for e in audit.list_entries(session, limit=5, subject="R-0")] == [3, 1]


def _purge_world(session: Session) -> None:
    rows.mission(session, "m-a")
    old = T0 - timedelta(days=100)
    rows.case(session, "c-expired", "m-a", reference="R-EXP", status="closed", updated_at=old)
    rows.case(session, "c-expired2", "m-a", reference="R-EXP2", status="closed", updated_at=old)
    rows.case(session, "c-recent", "m-a", reference="R-REC", status="closed", updated_at=T0)
    rows.case(session, "c-open", "m-a", reference="R-OPEN", status="new", updated_at=old)
    rows.event(session, "e1", "c-expired")
    rows.event(session, "e2", "c-open")
    rows.attachment(session, "f1", case_id="c-expired")
    rows.attachment(session, "f2", case_id="c-expired")
    rows.attachment(session, "f3", case_id="c-open")
    rows.conversation(session, "v-idle", last_seen_at=old)
    rows.conversation(session, "v-idle2", last_seen_at=old)
    rows.conversation(session, "v-active", last_seen_at=T0)
    rows.attachment(session, "f-draft", conversation_id="v-idle", kek_version=1)
    rows.attachment(session, "f-draft2", conversation_id="v-idle", kek_version=1)
    rows.processed(session, "old", T0 - timedelta(days=40))
    rows.processed(session, "new", T0)


def test_purge_reads_expired_cases_and_idle_conversations_in_batches(
    sessions: sessionmaker[Session],
) -> None:
    cutoff = T0 - timedelta(days=30)
    with sessions.begin() as session:
        _purge_world(session)
    with sessions() as session:
        assert purge.expired_case_ids(session, cutoff, "", 10) == ["c-expired", "c-expired2"]
        assert purge.expired_case_ids(session, cutoff, "c-expired", 10) == ["c-expired2"]
        assert purge.expired_case_ids(session, cutoff, "", 1) == ["c-expired"]
        assert purge.count_attachments_of_cases(session, ["c-expired", "c-recent"]) == 2
        assert purge.count_attachments_of_cases(session, []) == 0
        assert purge.count_unexpired_cases(session, ["R-EXP", "R-REC", "R-OPEN"], cutoff) == 2
        assert purge.count_unexpired_cases(session, ["R-EXP"], cutoff) == 0
        assert purge.idle_conversation_ids(session, cutoff, "", 10) == ["v-idle", "v-idle2"]
        assert purge.idle_conversation_ids(session, cutoff, "v-idle", 10) == ["v-idle2"]
        assert purge.count_draft_attachments(session, "v-idle") == 2
        assert purge.count_draft_attachments(session, "v-active") == 0


def test_purge_deletes_only_what_is_still_expired(sessions: sessionmaker[Session]) -> None:
    cutoff = T0 - timedelta(days=30)
    with sessions.begin() as session:
        _purge_world(session)
    with sessions.begin() as session:
        # c-open is not expired: asked to delete it, the conditional delete leaves it.
        gone = purge.delete_expired_cases(session, ["c-expired", "c-open"], cutoff)
        assert gone == ["c-expired"]
        purge.delete_events_of_cases(session, gone)
        purge.delete_attachments_of_cases(session, gone)
        assert purge.delete_processed_messages_before(session, T0 - timedelta(days=30)) == 1
    with sessions() as session:
        assert session.get(Case, "c-expired") is None and session.get(Case, "c-open") is not None
        assert session.get(CaseEvent, "e1") is None and session.get(CaseEvent, "e2") is not None
        assert session.get(Attachment, "f1") is None and session.get(Attachment, "f3") is not None
        assert [p.digest for p in session.query(ProcessedMessage)] == ["new"]


def test_conversations_change_only_when_unchanged_since_read(
    sessions: sessionmaker[Session],
) -> None:
    old = T0 - timedelta(days=100)
    with sessions.begin() as session:
        _purge_world(session)
    with sessions.begin() as session:
        # The defender wrote again since it was read (last seen differs): left alone.
        assert not purge.delete_conversation_if_unchanged(session, "v-idle", T0)
        assert not purge.replace_state_if_unchanged(session, "v-idle2", T0, b"menu")
        assert purge.replace_state_if_unchanged(session, "v-idle2", old, b"menu")
        assert purge.delete_conversation_if_unchanged(session, "v-idle", old)
    with sessions() as session:
        assert session.get(Conversation, "v-idle") is None
        assert session.get(Attachment, "f-draft") is None
        reset = session.get(Conversation, "v-idle2")
        assert reset is not None and reset.state_ct == b"menu"


def test_ping_and_wal_checkpoint(store: Engine, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        engine.ping(session)  # answers: no error
    assert purge.checkpoint_wal(store) is True
    unreachable = engine.make_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1}
    )
    try:
        with engine.make_session_factory(unreachable)() as session, pytest.raises(SQLAlchemyError):
            engine.ping(session)
    finally:
        unreachable.dispose()
