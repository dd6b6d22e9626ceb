"""Retention purge: expired cases and drafts are crypto-shredded, everything else untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from flows import load_catalog
from intake.core import app
from intake.keys.retention import checkpoint_sqlite, purge
from intake.messages import Attachment
from intake.storage.models import Attachment as AttachmentRow
from intake.storage.models import Case, CaseEvent, Conversation, KeySeal, ProcessedMessage
from intake.triage import actions as triage
from intake.triage.queue import CaseNotFound, open_case
from tests.support.defender import Defender, play, threat_report
from tests.support.keys import submit, verify
from tests.support.officers import enrol
from tests.support.pdfs import telling_pdf
from tests.support.setup import Setup

PDF = telling_pdf()  # a real PDF: one that does not parse is refused at the files step


def run_purge(setup: Setup, dry_run: bool = False) -> dict[str, int]:
    engine = app.build_flow_engine(setup.settings, load_catalog())
    report = purge(
        setup.sessions,
        setup.cipher,
        setup.settings.retention,
        timedelta(hours=setup.settings.draft_idle_hours),
        engine.new_state,
        setup.clock(),
        dry_run=dry_run,
    )
    return report.as_dict()


def close(setup: Setup, reference: str) -> None:
    with setup.sessions.begin() as session:
        case = triage.find_case(session, reference, None)
        triage.change_status(session, case, "close", "officer:x", setup.clock())


def secrets_of(setup: Setup, reference: str) -> tuple[str, list[bytes]]:
    """The case id and every ciphertext that belongs to it (payload, events, files, seals)."""
    with setup.sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)))
        files = list(session.scalars(select(AttachmentRow).where(AttachmentRow.case_id == case.id)))
        seals = list(
            session.scalars(
                select(KeySeal).where(KeySeal.record_id.in_([case.id, *[e.id for e in events]]))
            )
        )
        blobs = [case.payload_ct, *[e.body_ct for e in events], *[s.sealed for s in seals]]
        blobs += [f.data_ct for f in files]
        assert events and files and len(seals) == 4
        return case.id, blobs


def test_purge_shreds_expired_cases_and_drafts_only(setup: Setup) -> None:
    # Given a case with a file and a note, closed more than a year ago...
    _, officer_keys = enrol(setup, "eu-del-ke", "Ana")
    old = Defender(setup.service(), sender="old")
    old.send("/start")
    script = threat_report("Kenya", details="CANARY-PURGED")
    play(old, script[:7])
    old.send(attachment=Attachment(PDF, "application/pdf", "summons.pdf"))
    old.choose("done")
    play(old, script[8:])
    expired = old.reference()
    with setup.sessions.begin() as session:
        case = triage.find_case(session, expired, None)
        triage.note(session, setup.cipher, case, "officer:x", "CANARY-NOTE", setup.clock())
    close(setup, expired)
    expired_id, expired_blobs = secrets_of(setup, expired)
    # ...a case still open from then, a case closed recently, a fresh draft and two idle drafts.
    _, still_open = submit(setup, threat_report("Kenya"), "open")
    setup.clock.advance(days=300)
    _, recent = submit(setup, threat_report("Kenya"), "recent")
    close(setup, recent)
    idle_with_case = Defender(setup.service(), sender="open")
    idle_with_case.send("/start")
    idle_with_case.choose("threat_report")  # a new draft beside their submitted case
    idle_alone = Defender(setup.service(), sender="alone")
    idle_alone.send("/start")
    play(idle_alone, threat_report()[:7])
    idle_alone.send(attachment=Attachment(PDF, "application/pdf"))
    setup.clock.advance(days=70)
    fresh = Defender(setup.service(), sender="fresh")
    fresh.send("/start")
    fresh.choose("threat_report")
    # A dry run counts and changes nothing.
    with setup.sessions() as session:
        month_ago = setup.clock() - timedelta(days=setup.settings.retention.processed_message_days)
        digests = session.scalars(
            select(ProcessedMessage).where(ProcessedMessage.received_at < month_ago)
        ).all()
    assert len(digests) > 40
    expected = {
        "cases": 1,
        "case_events": 1,
        "case_attachments": 1,
        # Every idle conversation goes whole ("old", "open", "recent", "alone" with its
        # draft file): none keeps a list of cases, replies use the sealed return address.
        "conversations": 4,
        "drafts": 0,
        "draft_attachments": 1,
        "processed_messages": len(digests),  # every message but the fresh draft's
        "inbox_messages": 0,
        "unopenable_inbox_messages": 0,
        "orphan_seals": 0,
        "unreadable_conversations": 0,
        "draft_epoch_keys": 0,
        "shredded_conversations": 0,
        "shredded_draft_attachments": 0,
    }
    assert run_purge(setup, dry_run=True) == expected
    before = sqlite_bytes(setup)
    assert not before or all(blob[-32:] in before for blob in expired_blobs)  # the check bites
    assert secrets_of(setup, expired)[0] == expired_id
    report = run_purge(setup)
    assert report == expected

    # The expired case is gone for everyone: the recovery key and its officer alike.
    with setup.sessions() as session:
        for keys in (setup.recovery, officer_keys):
            with pytest.raises(CaseNotFound):
                open_case(session, setup.cipher, expired, keys)
        assert session.scalars(select(KeySeal).where(KeySeal.record_id == expired_id)).all() == []
        assert session.scalars(select(CaseEvent).where(CaseEvent.case_id == expired_id)).all() == []
        # Everything else opens as before.
        for reference in (still_open, recent):
            assert open_case(session, setup.cipher, reference, officer_keys).case.reference
        assert len(session.scalars(select(Conversation)).all()) == 1  # fresh
    assert verify(setup, setup.cipher, setup.recovery).ok
    # The idle draft restarts at the menu; the fresh one carries on where it was.
    idle_with_case.send(f"/status {still_open}")
    assert still_open in idle_with_case.text
    fresh.choose("yes")

    # On SQLite the ciphertexts are gone from the file itself (secure_delete, WAL truncated).
    raw = sqlite_bytes(setup)
    assert not any(blob[-32:] in raw for blob in expired_blobs)


def sqlite_bytes(setup: Setup) -> bytes:
    """The SQLite database and its write-ahead log, as bytes (PostgreSQL: none to scan)."""
    url = make_url(setup.settings.database_url)
    if url.get_backend_name() != "sqlite":
        return b""
    assert checkpoint_sqlite(setup.engine)
    database = Path(str(url.database))
    return database.read_bytes() + Path(f"{database}-wal").read_bytes()


def test_old_message_digests_go_after_their_retention(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    setup.clock.advance(days=setup.settings.retention.processed_message_days + 1)
    defender.send("/help")
    assert run_purge(setup)["processed_messages"] == 1
    with setup.sessions() as session:
        assert len(session.scalars(select(ProcessedMessage)).all()) == 1
