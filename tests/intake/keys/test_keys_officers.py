"""Officer key rotation, mission key rotation and revocation after a compromise, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crypto import BadPassphrase, CryptoError, PrivateKey
from intake.errors import NoKeyAtHand
from intake.keys.holders import KeysAtHand, open_seal
from intake.keys.mission_keys import reseal_open_cases, rotate_mission_key
from intake.storage.models import Case, KeySeal, Officer
from intake.triage import actions as triage
from intake.triage import officers
from intake.triage.queue import open_case
from tests.conftest import CHEAP_KDF
from tests.support.defender import assistance_request, threat_report
from tests.support.keys import submit, verify
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"
NEW_PASSPHRASE = b"a brand new passphrase, long"


def seals_of_case(setup: Setup, reference: str) -> dict[str, int]:
    """recipient -> version of each seal of a case's data key."""
    with setup.sessions() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
        rows = session.scalars(
            select(KeySeal).where(KeySeal.record_type == "case", KeySeal.record_id == case_id)
        )
        return {f"{row.recipient} v{row.recipient_version}": 1 for row in rows}


def opens(setup: Setup, reference: str, keys: KeysAtHand) -> bool:
    with setup.sessions() as session:
        try:
            open_case(session, setup.cipher, reference, keys)
        except (NoKeyAtHand, CryptoError):
            return False
        return True


def test_officer_rotates_their_key_pair(setup: Setup) -> None:
    ana, old_keys = enrol(setup, "eu-del-ke", "Ana")
    _, before = submit(setup, threat_report("Kenya"), "a")
    with setup.sessions.begin() as session:
        rotate_mission_key(
            session, setup.directory, "eu-del-ke", setup.clock()
        )  # Ana now holds versions 1 and 2
    _, after = submit(setup, threat_report("Kenya"), "b")
    with setup.sessions() as session:
        old_key_id = officers.get_officer(session, ana).key_id
    setup.clock.advance(days=30)

    with setup.sessions.begin() as session, pytest.raises(BadPassphrase):
        officers.rotate_key(
            session, setup.directory, ana, b"wrong passphrase!", setup.clock(), kdf=CHEAP_KDF
        )
    with setup.sessions.begin() as session:
        moved = officers.rotate_key(
            session,
            setup.directory,
            ana,
            PASSPHRASE,
            setup.clock(),
            new_passphrase=NEW_PASSPHRASE,
            kdf=CHEAP_KDF,
        )
    assert moved == 2

    with setup.sessions() as session:
        officer = officers.get_officer(session, ana)
        assert officer.key_id != old_key_id and officer.key_created_at == setup.clock()
        with pytest.raises(BadPassphrase):
            officers.unlock(session, ana, PASSPHRASE)
        new_keys = officers.unlock(session, ana, NEW_PASSPHRASE)
    # The new key opens old and new cases; the old private key opens nothing any more.
    assert opens(setup, before, new_keys) and opens(setup, after, new_keys)
    assert not opens(setup, before, old_keys) and not opens(setup, after, old_keys)
    assert verify(setup, setup.cipher, setup.recovery).ok


def test_mission_rotation_seals_the_new_version_to_every_member(setup: Setup) -> None:
    _, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    _, ben_keys = enrol(setup, "eu-del-ke", "Ben", unlock=ana_keys)
    _, old_case = submit(setup, threat_report("Kenya"), "a")
    with setup.sessions.begin() as session:
        assert rotate_mission_key(session, setup.directory, "eu-del-ke", setup.clock()) == (2, 2)
    _, new_case = submit(setup, threat_report("Kenya"), "b")
    assert "mission:eu-del-ke v2" in seals_of_case(setup, new_case)
    assert "mission:eu-del-ke v1" in seals_of_case(setup, old_case)  # old cases stay as they are
    for keys in (ana_keys, ben_keys, setup.recovery):
        assert opens(setup, old_case, keys) and opens(setup, new_case, keys)
    assert verify(setup, setup.cipher, setup.recovery).ok


def test_revoking_a_compromised_officer_reseals_open_cases(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    _, ben_keys = enrol(setup, "eu-del-ke", "Ben", unlock=ana_keys)
    _, open_ref = submit(setup, threat_report("Kenya"), "a")
    _, closed_ref = submit(setup, threat_report("Kenya"), "b")
    _, elsewhere = submit(setup, assistance_request("Ukraine"), "c")
    with setup.sessions.begin() as session:
        case = triage.find_case(session, open_ref, None)
        triage.note(
            session, setup.cipher, case, "officer:x", "a note on the open case", setup.clock()
        )
        closed = triage.find_case(session, closed_ref, None)
        triage.change_status(session, closed, "close", "officer:x", setup.clock())
        # What Ana could have copied: the mission's private key, version 1.
        stolen = ana_keys.mission_private_key(session, "eu-del-ke", 1)

    # When Ana is revoked as compromised, Ben re-sealing the open cases...
    with setup.sessions.begin() as session:
        officers.revoke(session, ana, setup.clock())
        version, members = rotate_mission_key(session, setup.directory, "eu-del-ke", setup.clock())
        moved = reseal_open_cases(session, setup.directory, ben_keys, "eu-del-ke", setup.clock())
    assert (version, members, moved) == (2, 1, 2)  # Ben only; the open case and its note

    # ...the open case is sealed to version 2 only, which Ana's copy of version 1 cannot open.
    assert seals_of_case(setup, open_ref).keys() == {
        "mission:eu-del-ke v2",
        f"recovery:{setup.recovery.recipient.removeprefix('recovery:')} v1",
    }
    assert not _stolen_key_opens(setup, stolen, open_ref)
    _, later = submit(setup, threat_report("Kenya"), "d")
    assert not _stolen_key_opens(setup, stolen, later)
    # Ben and the recovery key open everything; Ana's own key nothing.
    for reference in (open_ref, closed_ref, later):
        assert opens(setup, reference, ben_keys) and opens(setup, reference, setup.recovery)
        assert not opens(setup, reference, ana_keys)
    with setup.sessions() as session:
        assert [e.text for e in open_case(session, setup.cipher, open_ref, ben_keys).events] == [
            "a note on the open case"
        ]
        assert session.get(Officer, ana).status == "revoked"  # type: ignore[union-attr]
    assert opens(setup, elsewhere, setup.recovery)  # other missions untouched
    assert verify(setup, setup.cipher, setup.recovery).ok


def _stolen_key_opens(setup: Setup, stolen: PrivateKey, reference: str) -> bool:
    """Try the stolen mission key on every mission seal of the case."""
    with setup.sessions() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
        for row in session.scalars(select(KeySeal).where(KeySeal.record_id == case_id)):
            try:
                open_seal(stolen, row, reference)
                return True
            except CryptoError:
                continue
    return False
