"""The audit log detects edits, deletions, reordering and truncation, naming the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, update
from sqlalchemy.orm import sessionmaker

from intake.cli.main import cli
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
    checkpoint = audit.read_checkpoint(path)
    assert head.count == 6 and checkpoint is not None
    assert (checkpoint.count, checkpoint.hash) == (head.count, head.hash) and checkpoint.mac


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
        assert audit.verify(session, None, checkpoint_required=False).count == 4
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
        assert audit.verify(session, None, checkpoint_required=False).count == 6
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 6 and "checkpoint" in str(broken.value)


def test_a_missing_checkpoint_with_a_non_empty_log_is_refused(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 5))
    path.unlink()  # the truncation of issue 11: newest rows and audit-head.json deleted
    with pytest.raises(AuditBroken, match="no checkpoint file"):
        verify(setup, path)
    result = CliRunner().invoke(cli, ["audit", "verify"], env=setup.env)
    assert result.exit_code == 1 and "no checkpoint file" in result.output


def test_the_checkpoint_is_authenticated(setup: Setup) -> None:
    path = fill(setup)
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 5))
        head = audit.head(session)
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "count": head.count, "hash": head.hash}))
    with pytest.raises(AuditBroken, match="MAC does not verify"):
        verify(setup, path)
    path.write_text(json.dumps({"count": head.count, "hash": head.hash}))
    with pytest.raises(AuditBroken, match="not authenticated"):
        verify(setup, path)


def test_entries_written_without_the_keyring_are_refused(setup: Setup) -> None:
    path = fill(setup)
    bare = sessionmaker(setup.engine)  # a database writer without the keyring
    with bare.begin() as session, pytest.raises(AuditBroken, match="needs the keyring"):
        audit.append(session, setup.clock(), "operator", "case.open", "HRD-FAKE-0001")
    # Forged by hand, with the plain SHA-256 of the old chains:
    with bare.begin() as session:
        last = audit.head(session)
        at = setup.clock()
        session.add(
            AuditEntry(
                seq=last.count + 1,
                at=at,
                actor="operator",
                action="case.open",
                subject="HRD-FAKE-0001",
                detail={},
                prev_hash=last.hash,
                hash=audit.entry_hash(
                    last.hash, last.count + 1, at, "operator", "case.open", "HRD-FAKE-0001", {}
                ),
            )
        )
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 7 and "HMAC" in str(broken.value)


def test_a_plain_chain_from_before_the_keyring_key_verifies_then_is_keyed(setup: Setup) -> None:
    """The upgrade: plain SHA-256 entries first, keyed from the first entry with the key on."""
    with setup.sessions.begin() as session:
        session.execute(delete(AuditEntry))
    bare = sessionmaker(setup.engine)  # as sessions were before the chain was keyed
    with bare.begin() as session:
        for n in range(3):
            audit.append(session, setup.clock(), "operator", "case.open", f"HRD-OLD-000{n}")
    path = fill(setup, 2)  # keyed: the migration point is entry 4
    assert verify(setup, path).count == 5
    with setup.sessions.begin() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="x"))
    with pytest.raises(AuditBroken) as broken:
        verify(setup, path)
    assert broken.value.seq == 2
