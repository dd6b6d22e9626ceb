"""KEK and pseudonym rotation: rotate, rewrap beside the service, retire, verify; on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crypto import KeyNotFound, Keyring, KeyVersion
from intake.errors import RetireRefused
from intake.keys.rewrap import rewrap_all, rewrap_batch
from intake.storage import key_usage
from intake.storage.channel_state import ChannelStateStore
from intake.storage.models import ChannelState, Conversation
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import WRAPPED_TABLES, records_per_version
from intake.triage.queue import open_case
from tests.support.bulk import insert_records, wrapped_counts
from tests.support.defender import Defender, threat_report
from tests.support.keys import (
    fresh_cipher,
    keyring_now,
    retire,
    rotate,
    service,
    stale_cipher,
    submit,
    verify,
)
from tests.support.officers import enrol
from tests.support.setup import Setup


def test_rotate_rewrap_retire_verify_with_writes_during_the_rewrap(setup: Setup) -> None:
    # Given a live system: a sealed case, a draft with a file, channel state, 2,000 more records.
    _, officer_keys = enrol(setup, "eu-del-ke", "Ana")
    _, reference = submit(setup, threat_report("Kenya", details="before the rotation"))
    drafter = Defender(setup.service(), sender="d2")
    drafter.send("/start")
    drafter.choose("threat_report")
    ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock).put("sync", b"s-1")
    insert_records(setup.sessions, setup.cipher, 2000, setup.clock())
    with setup.sessions() as session:
        before = wrapped_counts(session)
    stale = stale_cipher(setup)  # a service that will not notice the rotation

    # When the KEK rotates and rewrap runs in batches, while both a stale and an
    # up-to-date service write records between batches...
    assert rotate(setup) == 2
    cipher = fresh_cipher(setup)
    written: dict[str, bytes] = {}

    def service_writes(_: int) -> None:
        if len(written) < 4:
            key = "k0" if not written else f"mid{len(written)}"  # k0 replaces a bulk row
            writer = stale if len(written) % 2 == 0 else cipher
            value = f"written during rewrap {len(written)}".encode()
            ChannelStateStore("bulk", setup.sessions, writer, setup.clock).put(key, value)
            written[key] = value

    report = rewrap_all(setup.sessions, cipher, batch=300, on_progress=service_writes)

    # ...every record ends on version 2, none lost, and version 1 can be retired.
    assert report.failures == [] and report.remaining == 0 and len(written) == 4
    with setup.sessions() as session:
        assert set(records_per_version(session)) == {2}
        after = wrapped_counts(session)
        assert after == {**before, "channel_state": before["channel_state"] + 3}
        assert key_usage.encryptions(session)[2] >= report.rewrapped
    assert retire(setup, 1)
    keyring = keyring_now(setup)
    assert keyring.versions("kek")[0].retired and keyring.versions("kek")[0].material == b""

    # Then every record opens with what is left, sealed ones with the recovery key too.
    retired_cipher = fresh_cipher(setup)
    verified = verify(setup, retired_cipher, setup.recovery)
    assert verified.ok, verified.failures
    assert verified.checked["conversation"] == before["conversations"]
    store = ChannelStateStore("bulk", setup.sessions, retired_cipher, setup.clock)
    for key, value in written.items():
        assert store.get(key) == value
    with setup.sessions() as session:
        opened = open_case(session, retired_cipher, reference, officer_keys)
        assert opened.payload["answers"]["details"] == "before the rotation"
    # And the draft started before the rotation carries on and submits.
    drafter.service = service(setup, retired_cipher)
    for action, value in threat_report("Kenya", details="after the rotation")[1:]:
        drafter.choose(value) if action == "choose" else drafter.send(value)
    with setup.sessions() as session:
        late = open_case(session, retired_cipher, drafter.reference(), setup.recovery)
        assert late.payload["answers"]["details"] == "after the rotation"


class RacingCipher(RecordCipher):
    """A real cipher that lets the service rewrite a row just before its first rewrap."""

    def __init__(self, keyring: Keyring, race: object) -> None:
        super().__init__(lambda: keyring)
        self._race = race

    def rewrap_key(
        self, record_type: str, record_id: str, wrapped: bytes
    ) -> tuple[bytes, KeyVersion]:
        race, self._race = self._race, None
        if callable(race):
            race(record_id)
        return super().rewrap_key(record_type, record_id, wrapped)


def test_a_row_rewritten_between_read_and_write_is_left_to_a_later_batch(setup: Setup) -> None:
    insert_records(setup.sessions, setup.cipher, 10, setup.clock())
    stale = stale_cipher(setup)
    rotate(setup)
    raced: list[str] = []

    def service_replaces(record_id: str) -> None:
        # The service (not yet reloaded) replaces this value: new data key, under version 1.
        key = record_id.split("/", 1)[1]
        ChannelStateStore("bulk", setup.sessions, stale, setup.clock).put(key, b"replaced")
        raced.append(key)

    cipher = RacingCipher(keyring_now(setup), service_replaces)
    spec = next(spec for spec in WRAPPED_TABLES if spec.name == "channel_state")
    with setup.sessions.begin() as session:
        result = rewrap_batch(session, cipher, spec, 1, 100)
    # The optimistic check kept the stale data key from overwriting the new value's.
    assert (result.selected, result.rewrapped) == (3, 2)
    with setup.sessions() as session:
        row = session.get(ChannelState, ("bulk", raced[0]))
        assert row is not None and row.kek_version == 1
    assert rewrap_all(setup.sessions, fresh_cipher(setup)).remaining == 0
    store = ChannelStateStore("bulk", setup.sessions, fresh_cipher(setup), setup.clock)
    assert store.get(raced[0]) == b"replaced"


def test_rerunning_rewrap_is_a_no_op(setup: Setup) -> None:
    insert_records(setup.sessions, setup.cipher, 200, setup.clock())
    rotate(setup)
    cipher = fresh_cipher(setup)
    assert rewrap_all(setup.sessions, cipher, batch=64).rewrapped == 200 + 3
    with setup.sessions() as session:
        wrapped = {row.id: row.dek_wrapped for row in session.scalars(select(Conversation))}
    again = rewrap_all(setup.sessions, cipher, batch=64)
    assert (again.rewrapped, again.raced, again.remaining) == (0, 0, 0)
    with setup.sessions() as session:
        assert {row.id: row.dek_wrapped for row in session.scalars(select(Conversation))} == wrapped


def test_retire_is_refused_while_records_need_the_version(setup: Setup) -> None:
    insert_records(setup.sessions, setup.cipher, 30, setup.clock())
    submit(setup, threat_report("Kenya"))  # its case is sealed: it needs no KEK
    with pytest.raises(RetireRefused, match="primary"):
        retire(setup, 1)
    rotate(setup)
    with pytest.raises(RetireRefused, match="retire_grace_minutes"):
        retire(setup, 1, after_grace=False)
    with pytest.raises(RetireRefused) as refused:
        retire(setup, 1)
    # 21 bulk conversations (the defender's is under a draft epoch, not a KEK),
    # 6 deliveries, 3 files, 3 channel values.
    assert refused.value.needed_by == {
        "conversations": 21,
        "deliveries": 6,
        "attachments": 3,
        "channel_state": 3,
    }
    assert "33 records still need it" in str(refused.value) and "keys rewrap" in str(refused.value)
    with pytest.raises(KeyNotFound):
        retire(setup, 7)
    assert keyring_now(setup).versions("kek")[0].material  # nothing was destroyed
    rewrap_all(setup.sessions, fresh_cipher(setup))
    assert retire(setup, 1) and not retire(setup, 1)  # the second time: already retired


def test_pseudonym_rotation_keeps_recognising_senders(setup: Setup) -> None:
    defender = Defender(setup.service(), sender="alice")
    defender.send("/start", message_id="m-1")
    defender.choose("threat_report")
    assert rotate(setup, "pseudonym") == 2
    # A service on the new keyring finds the conversation under version 1...
    defender.service = service(setup, fresh_cipher(setup))
    defender.send("/start", message_id="m-1")  # a redelivery: still recognised as seen
    assert defender.choices  # the current question again, nothing processed twice
    defender.choose("yes")
    # ...and moves it to version 2 on this contact.
    with setup.sessions() as session:
        conversation = session.scalar(select(Conversation))
        assert conversation is not None and conversation.pseudonym_version == 2
    # Version 1 still guards the digests of messages processed before the rotation.
    with pytest.raises(RetireRefused) as refused:
        retire(setup, 1, "pseudonym")
    assert refused.value.needed_by == {"processed_messages": 3}
