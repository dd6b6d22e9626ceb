"""Tampering with stored records fails with the typed error, through the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crypto import KeyNotFound, Misplaced, Tampered, load_keyring, save_keyring
from intake.core.desks import keyring_passphrase
from intake.storage.conversation_record import open_turn
from intake.storage.models import Case, Conversation, KeySeal
from intake.storage.records import RecordCipher
from intake.triage.queue import open_case
from tests.conftest import CHEAP_KDF
from tests.support.defender import Defender, play, threat_report
from tests.support.setup import Setup


def two_cases(setup: Setup) -> list[str]:
    references = []
    for sender in ("a", "b"):
        defender = Defender(setup.service(), sender=sender)
        defender.send("/start")
        play(defender, threat_report())
        references.append(defender.reference())
    return references


def edit(setup: Setup, model: type, key: object, **values: object) -> None:
    with setup.sessions.begin() as session:
        row = session.get(model, key)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


def case_row(setup: Setup, reference: str) -> Case:
    with setup.sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case


def conversations(setup: Setup) -> list[Conversation]:
    with setup.sessions() as session:
        return list(session.scalars(select(Conversation).order_by(Conversation.created_at)))


def opening(setup: Setup, reference: str) -> None:
    with setup.sessions() as session:
        open_case(session, setup.cipher, reference, setup.recovery)


def opening_conversation(setup: Setup, cipher: RecordCipher, conversation_id: str) -> None:
    with setup.sessions() as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        open_turn(cipher, row)


def test_flipped_byte_is_tampered(setup: Setup) -> None:
    first, _ = two_cases(setup)
    payload = bytearray(case_row(setup, first).payload_ct)
    payload[-5] ^= 0x01
    edit(setup, Case, case_row(setup, first).id, payload_ct=bytes(payload))
    with pytest.raises(Tampered):
        opening(setup, first)


def test_swapped_ciphertexts_are_misplaced(setup: Setup) -> None:
    first, second = two_cases(setup)
    a, b = case_row(setup, first), case_row(setup, second)
    edit(setup, Case, a.id, payload_ct=b.payload_ct)
    with pytest.raises(Misplaced):
        opening(setup, first)
    one, two = conversations(setup)
    edit(setup, Conversation, one.id, dek_wrapped=two.dek_wrapped)
    with pytest.raises(Misplaced):
        opening_conversation(setup, setup.cipher, one.id)


def test_sealed_key_moved_to_another_case_is_misplaced(setup: Setup) -> None:
    first, second = two_cases(setup)
    a, b = case_row(setup, first), case_row(setup, second)
    with setup.sessions.begin() as session:
        seals = {
            (s.record_id, s.recipient): s
            for s in session.scalars(select(KeySeal).where(KeySeal.record_type == "case"))
        }
        recipient = setup.recovery.recipient
        seals[(a.id, recipient)].sealed = seals[(b.id, recipient)].sealed
    with pytest.raises(Misplaced):
        opening(setup, first)


def test_unknown_key_version_is_reported(setup: Setup) -> None:
    two_cases(setup)
    one = conversations(setup)[0]
    wrapped = bytearray(one.dek_wrapped)
    wrapped[2:6] = (77).to_bytes(4, "big")
    edit(setup, Conversation, one.id, dek_wrapped=bytes(wrapped))
    with pytest.raises(KeyNotFound) as error:
        opening_conversation(setup, setup.cipher, one.id)
    assert error.value.version == 77


def test_destroyed_draft_epoch_is_reported(setup: Setup) -> None:
    two_cases(setup)
    path, passphrase = setup.settings.keyring.path, keyring_passphrase(setup.settings)
    keyring = load_keyring(path, passphrase)
    later = setup.clock.now + timedelta(days=1)
    rotated = keyring.rotate("draft", later).destroy("draft", [keyring.primary("draft")])
    save_keyring(path, rotated, passphrase, CHEAP_KDF)
    cipher = RecordCipher(lambda: load_keyring(path, passphrase))
    with pytest.raises(KeyNotFound):
        opening_conversation(setup, cipher, conversations(setup)[0].id)
