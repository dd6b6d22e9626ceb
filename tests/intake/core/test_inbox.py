"""The durable inbox: kept once, answered once in the core's transaction, replies kept until sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.core.inbox import DurableInbox
from intake.messages import Attachment, Inbound, Reply, WipeChat
from intake.storage import inbox as inbox_store
from intake.storage.models import InboxMessage
from tests.support.setup import Setup


def message(stamp: int, text: str = "/start", sender: str = "aci-7") -> Inbound:
    return Inbound(
        channel="signal", sender=sender, chat=sender, message_id=f"{sender}:{stamp}", text=text
    )


def inbox_for(setup: Setup) -> DurableInbox:
    return DurableInbox(setup.service(), setup.sessions, setup.cipher, setup.clock)


def states(setup: Setup) -> list[str]:
    with setup.sessions() as session:
        return list(session.scalars(select(InboxMessage.state).order_by(InboxMessage.received_at)))


def test_kept_once_answered_once_forgotten_once_sent(setup: Setup) -> None:
    inbox = inbox_for(setup)
    assert inbox.keep("signal", [message(1), message(2, "1"), message(1)]) == [True, True, False]
    assert inbox.keep("signal", [message(2, "1")]) == [False]  # a redelivery
    answers = inbox.answer("signal")
    assert [a.message_id for a in answers] == ["aci-7:1", "aci-7:2"]
    assert answers[0].first_contact and not answers[1].first_contact
    assert all(isinstance(out, Reply) for a in answers for out in a.outbound)
    assert inbox.answer("signal") == []
    assert states(setup) == ["answered", "answered"]

    # A run killed before sending: the next one finds the same answers, sealed.
    again = inbox_for(setup).unsent("signal")
    assert again == answers
    inbox.sent([a.id for a in again])
    assert states(setup) == ["done", "done"]
    assert inbox_for(setup).unsent("signal") == []
    with setup.sessions() as session:
        rows = list(session.scalars(select(InboxMessage)))
    assert all(r.payload_ct is None and r.answer_ct is None and r.dek_wrapped is None for r in rows)


def test_files_are_sealed_and_gone_once_answered(setup: Setup) -> None:
    inbox = inbox_for(setup)
    photo = Attachment(b"\xff\xd8\xff raw bytes with EXIF", "image/jpeg", "IMG.jpg")
    file_message = Inbound(
        channel="signal", sender="aci-8", chat="aci-8", message_id="aci-8:9:0", attachment=photo
    )
    inbox.keep("signal", [file_message])
    with setup.sessions() as session:
        row = session.scalars(select(InboxMessage)).one()
        assert row.payload_ct is not None and b"raw bytes" not in row.payload_ct
    inbox.answer("signal")
    with setup.sessions() as session:
        assert session.scalars(select(InboxMessage)).one().payload_ct is None


def test_a_failed_answer_leaves_the_messages_pending(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = setup.service()
    inbox = DurableInbox(service, setup.sessions, setup.cipher, setup.clock)
    inbox.keep("signal", [message(1)])

    def broken_hook(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process dies inside the transaction")

    monkeypatch.setattr(inbox, "_store_answer", broken_hook)
    with pytest.raises(RuntimeError):
        inbox.answer("signal")
    assert states(setup) == ["pending"]
    answers = inbox_for(setup).answer("signal")  # nothing of the failed try was committed
    assert len(answers) == 1 and answers[0].first_contact


def test_a_wipe_survives_the_round_trip(setup: Setup) -> None:
    inbox = inbox_for(setup)
    inbox.keep("signal", [message(1), message(2, "/delete")])
    answers = inbox.answer("signal")
    assert any(isinstance(out, WipeChat) for out in answers[1].outbound)
    assert inbox_for(setup).unsent("signal") == answers


def test_purge_forgets_digests_of_messages_done_past_retention(setup: Setup) -> None:
    from intake.keys.retention import purge

    inbox = inbox_for(setup)
    inbox.keep("signal", [message(1), message(2, "1")])
    inbox.sent([a.id for a in inbox.answer("signal")[:1]])
    setup.clock.advance(days=setup.settings.retention.processed_message_days + 1)
    engine = setup.service()._engine
    report = purge(
        setup.sessions,
        setup.cipher,
        setup.settings.retention,
        setup.service()._draft_idle,
        engine.new_state,
        setup.clock(),
    )
    assert report.inbox_messages == 1
    assert states(setup) == ["answered"]  # not sent yet: kept


def tamper(setup: Setup, row_id: str, column: str) -> None:
    """Flip one byte of a sealed field, as someone writing the database could."""
    with setup.sessions.begin() as session:
        row = session.get(InboxMessage, row_id)
        assert row is not None
        blob = bytearray(getattr(row, column))
        blob[-3] ^= 0x01
        setattr(row, column, bytes(blob))


def row_ids(setup: Setup) -> list[str]:
    with setup.sessions() as session:
        return list(session.scalars(select(InboxMessage.id).order_by(InboxMessage.received_at)))


def test_a_message_that_does_not_open_is_set_aside_and_the_ones_behind_it_answered(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    # Given three kept messages, the two oldest tampered with in the database.
    inbox = inbox_for(setup)
    secret = "my-canary-text-7f3e"
    inbox.keep(
        "signal",
        [message(1, secret, "aci-1"), message(2, secret, "aci-2"), message(3, "/start", "aci-3")],
    )
    first, second, third = row_ids(setup)
    tamper(setup, first, "payload_ct")
    tamper(setup, second, "dek_wrapped")

    # When the core answers one message at a time (the batch holds only broken rows)...
    with caplog.at_level("ERROR", logger="intake.core.inbox"):
        answers = inbox.answer("signal", limit=1)

    # ...the broken ones are set aside, not retried in a loop, and the third is answered.
    assert [a.id for a in answers] == [third]
    assert states(setup) == ["unreadable", "unreadable", "answered"]
    errors = [r for r in caplog.records if r.name == "intake.core.inbox"]
    assert [(r.levelname, r.__dict__["record"], r.__dict__["kind"]) for r in errors] == [
        ("ERROR", first, "Tampered"),
        ("ERROR", second, "Tampered"),
    ]
    assert all(secret not in r.getMessage() and "aci-" not in r.getMessage() for r in errors)
    with setup.sessions() as session:
        assert inbox_store.count_set_aside_by_channel(session) == {"signal": 2}
        kept = session.get(InboxMessage, first)
        assert kept is not None and kept.payload_ct is not None  # nothing deleted
    assert inbox.answer("signal") == []

    # A replies row that does not open is set aside too; the other replies still go out.
    tamper(setup, third, "answer_ct")
    assert inbox.unsent("signal") == []
    assert states(setup) == ["unreadable"] * 3

    # The channel's next session tries them again: back in line by what each holds.
    assert inbox.retry_set_aside("signal") == 3
    assert states(setup) == ["pending", "pending", "answered"]
    assert inbox.answer("signal") == [] and inbox.unsent("signal") == []
    assert states(setup) == ["unreadable"] * 3
