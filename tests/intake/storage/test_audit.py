"""The audit log detects edits, deletions, reordering and truncation, naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, update

from intake.errors import AuditBroken
from intake.storage import audit
from intake.storage.models import AuditEntry
from tests.support.setup import Setup


def fill(setup: Setup, count: int = 6) -> Path:
    with setup.sessions.begin() as session:
        for n in range(count):
            audit.append(
                session, setup.clock(), "officer:ana-1", "case.open", f"HRD-0000-000{n}", n=n
            )
    path = setup.settings.audit_checkpoint
    with setup.sessions() as session:
        audit.sync_checkpoint(session, path)
    return path


def verify(setup: Setup, path: Path) -> audit.Head:
    with setup.sessions() as session:
        return audit.verify(session, audit.read_checkpoint(path))


def test_intact_chain_verifies(setup: Setup) -> None:
    path = fill(setup)
    head = verify(setup, path)
    assert head.count == 6 and audit.read_checkpoint(path) == head


def test_edited_entry_is_named(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values(actor="officer:someone-else")
        )
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 3 and "edited" in str(broken.value)


def test_deleted_entry_is_named(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 4 and "missing" in str(broken.value)


def test_reordered_entries_are_named(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        two, five = (session.get(AuditEntry, n) for n in (2, 5))
        assert two is not None and five is not None
        fields = ("at", "actor", "action", "subject", "detail", "prev_hash", "hash")
        saved = {name: getattr(two, name) for name in fields}
        for name in fields:
            setattr(two, name, getattr(five, name))
            setattr(five, name, saved[name])
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 2


def test_truncation_is_caught_by_the_checkpoint(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 5))
    # The chain that is left is valid on its own...
    with setup.sessions() as session:
        assert audit.verify(session, None).count == 4
    # ...but the head kept outside the database says 6 entries.
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 5


def test_rewritten_log_differs_from_the_checkpoint(setup: Setup) -> None:
    path = fill(setup)
    # A forger replaces the whole log with a self-consistent one of the same length.
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry))
        for n in range(6):
            audit.append(session, setup.clock(), "operator", "case.open", f"HRD-FAKE-000{n}")
    with setup.sessions() as session:
        assert audit.verify(session, None).count == 6
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 6 and "checkpoint" in str(broken.value)
