"""Storage contract: the inbox (messages kept before processing, Signal)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake.storage import counts, inbox
from intake.storage.models import InboxMessage
from tests.support.rows import T0


def kept(row_id: str, digest: str, state: str = inbox.PENDING, at: int = 0) -> InboxMessage:
    return InboxMessage(
        id=row_id,
        channel="signal",
        digest=digest,
        pseudonym_version=1,
        state=state,
        dek_wrapped=b"wrapped",
        kek_version=1,
        payload_ct=b"sealed",
        received_at=T0 + timedelta(seconds=at),
    )


def test_rows_by_state_oldest_first_and_digests_present(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        inbox.add_message(session, kept("b", "d-b", at=2))
        inbox.add_message(session, kept("a", "d-a", at=1))
        inbox.add_message(session, kept("c", "d-c", state=inbox.ANSWERED))
    with sessions() as session:
        assert [r.id for r in inbox.messages_in_state(session, "signal", inbox.PENDING, 10)] == [
            "a",
            "b",
        ]
        assert [r.id for r in inbox.messages_in_state(session, "signal", inbox.PENDING, 1)] == ["a"]
        assert inbox.digests_present(session, "signal", ["d-a", "d-x", "d-c"]) == {"d-a", "d-c"}
        assert inbox.digests_present(session, "matrix", ["d-a"]) == set()
        assert inbox.digests_present(session, "signal", []) == set()


def test_a_digest_is_kept_once_per_channel(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        inbox.add_message(session, kept("a", "d-a"))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        inbox.add_message(session, kept("b", "d-a"))


def test_done_keeps_only_the_digest_and_purge_forgets_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        inbox.add_message(session, kept("a", "d-a"))
        inbox.add_message(session, kept("b", "d-b", at=60))
        inbox.mark_done(session, ["a", "b"])
        inbox.add_message(session, kept("c", "d-c"))  # pending: never purged
    with sessions() as session:
        row = session.get(InboxMessage, "a")
        assert row is not None and row.state == inbox.DONE
        assert (row.payload_ct, row.answer_ct, row.dek_wrapped, row.kek_version) == (None,) * 4
    with sessions.begin() as session:
        assert inbox.purge_done_before(session, T0 + timedelta(seconds=30), dry_run=True) == 1
        assert inbox.purge_done_before(session, T0 + timedelta(seconds=30)) == 1
    with sessions() as session:
        assert inbox.digests_present(session, "signal", ["d-a", "d-b", "d-c"]) == {"d-b", "d-c"}


def test_rows_set_aside_are_counted_requeued_by_what_they_hold_and_deleted_on_request(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        inbox.add_message(session, kept("a", "d-a"))
        inbox.add_message(session, kept("b", "d-b", state=inbox.ANSWERED))
        inbox.add_message(session, kept("c", "d-c"))
    with sessions.begin() as session:
        answered = session.get(InboxMessage, "b")
        assert answered is not None
        answered.payload_ct, answered.answer_ct = None, b"sealed replies"
    with sessions.begin() as session:
        assert inbox.set_aside(session, "a", inbox.PENDING)
        assert inbox.set_aside(session, "b", inbox.ANSWERED)
        assert not inbox.set_aside(session, "c", inbox.ANSWERED)  # moved on: left alone
    with sessions() as session:
        assert inbox.count_set_aside_by_channel(session) == {"signal": 2}
        assert [(r.id, r.channel) for r in inbox.set_aside_rows(session)] == [
            ("a", "signal"),
            ("b", "signal"),
        ]
        assert inbox.messages_in_state(session, "signal", inbox.PENDING, 10)[0].id == "c"
    with sessions.begin() as session:
        assert inbox.requeue_set_aside(session, "matrix") == 0
        assert inbox.requeue_set_aside(session, "signal") == 2
    with sessions() as session:
        states = {r.id: r.state for r in session.scalars(select(InboxMessage))}
        assert states == {"a": inbox.PENDING, "b": inbox.ANSWERED, "c": inbox.PENDING}
    with sessions.begin() as session:
        inbox.set_aside(session, "a", inbox.PENDING)
        assert inbox.delete_set_aside(session, ["a", "c"]) == 1  # "c" is not set aside
        assert inbox.delete_set_aside(session, []) == 0
    with sessions() as session:
        assert sorted(session.scalars(select(InboxMessage.id))) == ["b", "c"]


def test_rows_are_counted_by_pseudonym_version_in_any_state(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        inbox.add_message(session, kept("a", "d-a"))
        inbox.add_message(session, kept("b", "d-b", state=inbox.ANSWERED))
        newer = kept("c", "d-c")
        newer.pseudonym_version = 2
        inbox.add_message(session, newer)
    with sessions() as session:
        assert counts.count_inbox_on_pseudonym_version(session, 1) == 2
        assert counts.count_inbox_on_pseudonym_version(session, 2) == 1
        assert counts.count_inbox_on_pseudonym_version(session, 3) == 0
        assert {v: f.get("inbox") for v, f in counts.count_pseudonym_records_by_version(
            session
        ).items()} == {1: 2, 2: 1}
