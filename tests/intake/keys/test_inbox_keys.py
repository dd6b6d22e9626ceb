"""The durable inbox (Signal) under key rotation: rewrap, retire, verify and purge cover it.

An inbox row waits (state pending or answered) whenever the bot is down or was
killed between keeping a message and sending its answer. Such a row has a data
key wrapped under a KEK version like every keyring record, and a digest under
a pseudonym key version: rotation must carry both, on both databases.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from crypto import load_keyring
from intake.core import app
from intake.core.inbox import DurableInbox
from intake.errors import RetireRefused
from intake.keys.keyring_admin import save_keyring
from intake.keys.rewrap import rewrap_all
from intake.messages import Inbound, Reply
from intake.storage import inbox as inbox_store
from intake.storage import key_usage
from intake.storage.models import InboxMessage
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import records_per_version
from tests.intake.keys.test_purge import run_purge
from tests.support.keys import fresh_cipher, keyring_now, retire, rotate, service, verify
from tests.support.setup import Setup

ACI = "5d2c7b1e-0000-4000-8000-00000000beef"


def message(stamp: int, text: str, sender: str = ACI) -> Inbound:
    """What the Signal channel keeps for a text message (`bots.signal.pipeline`)."""
    return Inbound(
        channel="signal", sender=sender, chat=sender, message_id=f"{sender}:{stamp}", text=text
    )


def inbox_on(setup: Setup, cipher: RecordCipher) -> DurableInbox:
    """The inbox as `serve` builds it, on a service holding `cipher`'s keyring."""
    return DurableInbox(service(setup, cipher), setup.sessions, cipher, setup.clock)


def rows(setup: Setup) -> dict[str, InboxMessage]:
    with setup.sessions() as session:
        return {row.id: row for row in session.scalars(select(InboxMessage))}


def flip_a_byte(setup: Setup, row_id: str, column: str) -> None:
    """Someone with write access to the database edits a sealed field."""
    with setup.sessions.begin() as session:
        row = session.get(InboxMessage, row_id)
        assert row is not None
        blob = bytearray(getattr(row, column))
        blob[-3] ^= 0x01
        session.execute(
            update(InboxMessage).where(InboxMessage.id == row_id).values({column: bytes(blob)})
        )


def test_messages_waiting_through_rotate_rewrap_retire_are_answered_afterwards(
    setup: Setup,
) -> None:
    # Given the bot was stopped with one answer not sent and one message not answered.
    inbox = inbox_on(setup, setup.cipher)
    assert inbox.keep("signal", [message(1, "/start")]) == [True]
    unsent = inbox.answer("signal")
    assert len(unsent) == 1
    assert inbox.keep("signal", [message(2, "1")]) == [True]
    assert sorted(r.state for r in rows(setup).values()) == ["answered", "pending"]
    with setup.sessions() as session:
        spent_before = key_usage.encryptions(session).get(2, 0)

    # When security staff rotate the KEK, retiring the old version is refused until
    # rewrap has moved the waiting rows (they are counted where it says what needs it).
    assert rotate(setup) == 2
    with pytest.raises(RetireRefused) as refused:
        retire(setup, 1)
    assert refused.value.needed_by.get("inbox") == 2
    assert "keys rewrap" in str(refused.value)
    cipher = fresh_cipher(setup)
    report = rewrap_all(setup.sessions, cipher)
    assert (report.failures, report.remaining) == ([], 0)
    assert {r.kek_version for r in rows(setup).values()} == {2}
    with setup.sessions() as session:
        assert records_per_version(session)[2]["inbox"] == 2
        assert key_usage.encryptions(session)[2] >= spent_before + 2  # rewraps are counted
    assert retire(setup, 1)
    assert keyring_now(setup).versions("kek")[0].material == b""

    # Then keys verify opens both rows with what is left...
    after = fresh_cipher(setup)
    verified = verify(setup, after, setup.recovery)
    assert verified.ok, verified.failures
    assert verified.checked["inbox"] == 2

    # ...and a bot started now sends the answer left over, then answers the waiting message.
    restarted = inbox_on(setup, after)
    assert restarted.retry_set_aside("signal") == 0
    left = restarted.unsent("signal")
    assert left == unsent
    restarted.sent([a.id for a in left])
    answers = restarted.answer("signal")
    assert [a.message_id for a in answers] == [f"{ACI}:2"]
    assert not answers[0].first_contact and isinstance(answers[0].outbound[-1], Reply)
    assert answers[0].outbound[-1].choices  # the next question of the report, with choices
    restarted.sent([a.id for a in answers])
    assert {r.state for r in rows(setup).values()} == {"done"}
    # A done row keeps nothing a KEK protects: no wrapped key, no ciphertext.
    assert all(
        (r.dek_wrapped, r.kek_version, r.payload_ct, r.answer_ct) == (None,) * 4
        for r in rows(setup).values()
    )


def test_keys_verify_counts_inbox_rows_and_names_one_that_does_not_open(setup: Setup) -> None:
    inbox = inbox_on(setup, setup.cipher)
    inbox.keep("signal", [message(1, "/start"), message(2, "/start", sender="aci-2")])
    inbox.sent([a.id for a in inbox.answer("signal")[:1]])  # one done: nothing left to open
    inbox.keep("signal", [message(3, "1"), message(4, "hello", sender="aci-3")])
    by_state: dict[str, list[str]] = {r.state: [] for r in rows(setup).values()}
    for row in rows(setup).values():
        by_state[row.state].append(row.id)
    assert {state: len(ids) for state, ids in by_state.items()} == {
        "done": 1,
        "answered": 1,
        "pending": 2,
    }
    verified = verify(setup, setup.cipher, setup.recovery)
    assert verified.ok, verified.failures
    assert verified.checked["inbox"] == 3  # the answered one opened through its replies

    # When someone edits a waiting message's ciphertext in the database...
    tampered = by_state["pending"][0]
    flip_a_byte(setup, tampered, "payload_ct")
    broken = verify(setup, setup.cipher, setup.recovery)

    # ...keys verify names that row (type, random id, error class), nothing more.
    assert broken.checked["inbox"] == 3
    assert [(f.record_type, f.record_id, f.problem) for f in broken.failures] == [
        ("inbox", tampered, "Tampered")
    ]


def test_a_message_set_aside_is_named_by_verify_even_once_it_opens(setup: Setup) -> None:
    inbox = inbox_on(setup, setup.cipher)
    inbox.keep("signal", [message(1, "/start")])
    (row_id,) = rows(setup)
    original = rows(setup)[row_id].payload_ct
    flip_a_byte(setup, row_id, "payload_ct")
    assert inbox.answer("signal") == []
    assert rows(setup)[row_id].state == inbox_store.UNREADABLE
    # The ciphertext is put back (a restored backup): it opens, but nobody processed it yet.
    with setup.sessions.begin() as session:
        session.execute(
            update(InboxMessage).where(InboxMessage.id == row_id).values(payload_ct=original)
        )
    verified = verify(setup, setup.cipher, setup.recovery)
    assert [(f.record_type, f.record_id) for f in verified.failures] == [("inbox", row_id)]
    assert "set aside by the signal channel" in verified.failures[0].problem
    # The channel's next session puts it back in line and answers it.
    assert inbox.retry_set_aside("signal") == 1
    assert [a.id for a in inbox.answer("signal")] == [row_id]
    assert verify(setup, setup.cipher, setup.recovery).ok


def test_retiring_a_pseudonym_version_waits_for_the_inbox_digests_under_it(setup: Setup) -> None:
    # Given messages kept under pseudonym version 1, one of them answered and sent.
    inbox = inbox_on(setup, setup.cipher)
    inbox.keep("signal", [message(1, "/start")])
    inbox.sent([a.id for a in inbox.answer("signal")])
    inbox.keep("signal", [message(2, "1")])
    assert rotate(setup, "pseudonym") == 2

    # A service on the new keyring still recognises a redelivery of either message.
    after = inbox_on(setup, fresh_cipher(setup))
    assert after.keep("signal", [message(1, "/start"), message(2, "1")]) == [False, False]
    assert after.keep("signal", [message(3, "hello")]) == [True]
    assert sorted(r.pseudonym_version for r in rows(setup).values()) == [1, 1, 2]

    # Then version 1 cannot be retired while inbox digests are under it.
    with pytest.raises(RetireRefused) as refused:
        retire(setup, 1, "pseudonym")
    assert refused.value.needed_by["inbox"] == 2
    assert "inbox digests" in str(refused.value)

    # Once answered, sent and past retention, purge forgets them and the version can go.
    after.sent([a.id for a in after.answer("signal")])
    setup.clock.advance(days=setup.settings.retention.processed_message_days + 1)
    purged = run_purge(setup)
    assert purged["inbox_messages"] == 3
    assert rows(setup) == {}
    assert retire(setup, 1, "pseudonym")


def test_purge_deletes_set_aside_messages_only_once_nothing_can_open_them(setup: Setup) -> None:
    # Given two messages set aside: one tampered, one under a KEK version retired by a
    # release that did not count the inbox (the material is gone from the keyring).
    inbox = inbox_on(setup, setup.cipher)
    inbox.keep("signal", [message(1, "/start"), message(2, "/start", sender="aci-2")])
    first, second = sorted(rows(setup).values(), key=lambda r: r.received_at)
    rotate(setup)
    now = setup.clock()
    path, passphrase = setup.settings.keyring.path, app.keyring_passphrase(setup.settings)
    keyring = load_keyring(path, passphrase)
    # Only this one is rewrapped; then version 1 is destroyed behind the inbox's back.
    with setup.sessions.begin() as session:
        wrapped, version = fresh_cipher(setup).rewrap_key("inbox", second.id, second.dek_wrapped)
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.id == second.id)
            .values(dek_wrapped=wrapped, kek_version=version)
        )
    save_keyring(path, keyring.retire("kek", keyring.versions("kek")[0].version, now), passphrase)
    flip_a_byte(setup, second.id, "payload_ct")
    cipher = fresh_cipher(setup)
    assert inbox_on(setup, cipher).answer("signal") == []
    assert {r.state for r in rows(setup).values()} == {inbox_store.UNREADABLE}
    problems = {f.record_id: f.problem for f in verify(setup, cipher, setup.recovery).failures}
    assert problems == {first.id: "KeyRetired", second.id: "Tampered"}

    # When purge runs, the one nobody can open goes (counted); the tampered one stays.
    assert run_purge(setup, dry_run=True)["unopenable_inbox_messages"] == 1
    assert len(rows(setup)) == 2
    assert run_purge(setup)["unopenable_inbox_messages"] == 1
    assert set(rows(setup)) == {second.id}
