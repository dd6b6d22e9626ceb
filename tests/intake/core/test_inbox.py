"""The durable inbox: kept once, answered once in the core's transaction, replies kept until sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.core.inbox import DurableInbox
from intake.messages import Attachment, Inbound, Reply, WipeChat
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
