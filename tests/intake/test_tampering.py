"""Tampering with stored records fails with the typed error, through the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crypto import KeyNotFound, KeyRetired, Misplaced, Tampered, load_keyring, save_keyring
from intake.app import keyring_passphrase
from intake.models import Case
from intake.queue import open_case
from intake.records import RecordCipher
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


def edit_case(setup: Setup, reference: str, **values: object) -> None:
    with setup.sessions.begin() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        for name, value in values.items():
            setattr(case, name, value)


def stored(setup: Setup, reference: str) -> Case:
    with setup.sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        return case


def opening(setup: Setup, reference: str) -> None:
    with setup.sessions() as session:
        open_case(session, setup.cipher, reference)


def test_flipped_byte_is_tampered(setup: Setup) -> None:
    first, _ = two_cases(setup)
    payload = bytearray(stored(setup, first).payload_ct)
    payload[-5] ^= 0x01
    edit_case(setup, first, payload_ct=bytes(payload))
    with pytest.raises(Tampered):
        opening(setup, first)


def test_swapped_ciphertexts_are_misplaced(setup: Setup) -> None:
    first, second = two_cases(setup)
    a, b = stored(setup, first), stored(setup, second)
    edit_case(setup, first, payload_ct=b.payload_ct)
    edit_case(setup, second, dek_wrapped=a.dek_wrapped)
    with pytest.raises(Misplaced):
        opening(setup, first)
    with pytest.raises(Misplaced):
        opening(setup, second)


def test_unknown_key_version_is_reported(setup: Setup) -> None:
    first, _ = two_cases(setup)
    wrapped = bytearray(stored(setup, first).dek_wrapped)
    wrapped[2:6] = (77).to_bytes(4, "big")
    edit_case(setup, first, dek_wrapped=bytes(wrapped))
    with pytest.raises(KeyNotFound) as error:
        opening(setup, first)
    assert error.value.version == 77


def test_retired_key_version_is_reported(setup: Setup) -> None:
    first, _ = two_cases(setup)
    path, passphrase = setup.settings.keyring.path, keyring_passphrase(setup.settings)
    keyring = load_keyring(path, passphrase)
    later = setup.clock.now + timedelta(days=1)
    rotated = keyring.rotate("kek", later).retire("kek", keyring.primary("kek"), later)
    save_keyring(path, rotated, passphrase, CHEAP_KDF)
    cipher = RecordCipher(lambda: load_keyring(path, passphrase))
    with setup.sessions() as session, pytest.raises(KeyRetired):
        open_case(session, cipher, first)
