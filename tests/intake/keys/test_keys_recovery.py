"""Recovery key rotation: every case, event and mission key moves to the new key; on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.errors import NoKeyAtHand, RecoveryRotationRefused
from intake.keys.holders import active_recovery_key
from intake.keys.recovery import (
    recovery_keys_at_hand,
    reseal_recovery_batch,
    seals_to,
    start_recovery_rotation,
)
from intake.storage.models import KeySeal, RecoveryKey
from intake.triage import actions as triage
from intake.triage.queue import open_case
from tests.support.defender import assistance_request, threat_report
from tests.support.keys import pin, submit, verify
from tests.support.officers import enrol
from tests.support.setup import Setup


def test_recovery_rotation_moves_every_seal_and_survives_an_interruption(
    setup: Setup, tmp_path: Path
) -> None:
    # Given cases (one not yet covered by a mission key), an event and mission keys.
    _, uncovered = submit(setup, assistance_request("Ukraine"), "u")
    _, officer_keys = enrol(setup, "eu-del-ke", "Ana")
    _, reference = submit(setup, threat_report("Kenya"), "k")
    with setup.sessions.begin() as session:
        case = triage.find_case(session, reference, None)
        triage.note(session, setup.cipher, case, "officer:x", "sealed note", setup.clock())
    old = setup.recovery
    with setup.sessions() as session:
        before = seals_to(session, old.recipient)
    assert before == 4  # two cases, the note, the Kenya mission key

    # When the rotation starts and is interrupted after one small batch...
    new_file = tmp_path / "new-recovery.txt"
    with setup.sessions.begin() as session:
        new_id = start_recovery_rotation(session, old, new_file, setup.clock(), pin(setup))
    with setup.sessions.begin() as session:
        assert reseal_recovery_batch(session, setup.directory, old, setup.clock(), limit=1) == 1
    # ...a case submitted meanwhile is sealed to the new key only...
    _, during = submit(setup, threat_report("Kenya"), "d")
    with setup.sessions.begin() as session:
        with pytest.raises(RecoveryRotationRefused):
            start_recovery_rotation(
                session, old, tmp_path / "again.txt", setup.clock(), pin(setup)
            )
    # ...and a rerun finishes the job.
    moved = 1
    while True:
        with setup.sessions.begin() as session:
            count = reseal_recovery_batch(session, setup.directory, old, setup.clock(), limit=2)
        if not count:
            break
        moved += count
    assert moved == before

    new = recovery_keys_at_hand(new_file)
    assert new.recipient == f"recovery:{new_id}" and oct(new_file.stat().st_mode & 0o777) == "0o600"
    with setup.sessions() as session:
        assert seals_to(session, old.recipient) == 0
        assert seals_to(session, new.recipient) == before + 1
        active = active_recovery_key(session)
        assert active is not None and active[0] == new_id
        old_row = session.get(RecoveryKey, old.recipient.removeprefix("recovery:"))
        assert old_row is not None and not old_row.active  # retired: listed, unused
        # Then the new key opens every case and event; the old one opens nothing.
        for ref in (uncovered, reference, during):
            assert open_case(session, setup.cipher, ref, new).case.reference == ref
            with pytest.raises(NoKeyAtHand):
                open_case(session, setup.cipher, ref, old)
        assert [e.text for e in open_case(session, setup.cipher, reference, new).events] == [
            "sealed note"
        ]
        assert new.mission_private_key(session, "eu-del-ke", 1)
        assert session.scalar(select(func.count()).select_from(KeySeal)) == 9  # nothing lost
    # Officers are unaffected, and the new recovery key verifies the whole database.
    with setup.sessions() as session:
        assert open_case(session, setup.cipher, reference, officer_keys).case.reference == reference
    assert verify(setup, setup.cipher, new).ok
