"""A seized server with an old backup: what opens within the draft window, and nothing after.

The attacker of issue 11: a copy of the database taken while a defender was
drafting (on SQLite the file and its write-ahead log), put back later beside
the keyring and passphrase as the server holds them then.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import make_url

from crypto import CryptoError, KeyNotFound, load_keyring
from intake.core import desks
from intake.errors import NoKeyAtHand
from intake.keys.retention import shred_draft_epochs
from intake.messages import Attachment
from intake.storage.conversation_record import open_turn
from intake.storage.models import Attachment as AttachmentRow
from intake.storage.models import Case, Conversation
from intake.storage.records import RecordCipher
from intake.triage.queue import open_case
from tests.support.defender import Defender, play, threat_report
from tests.support.pdfs import telling_pdf
from tests.support.setup import Setup

PDF = telling_pdf()  # a real PDF (one that does not parse is refused at the files step)
DETAIL = "CANARY-SEIZED-DRAFT"
TABLES: tuple[Table, ...] = (Conversation.__table__, AttachmentRow.__table__)  # type: ignore[assignment]


def backup_rows(setup: Setup) -> dict[str, list[dict[str, Any]]]:
    """The draft tables as a backup (or PostgreSQL's dead tuples) would hold them."""
    with setup.engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in TABLES
        }


def sqlite_files(setup: Setup) -> Path | None:
    url = make_url(setup.settings.database_url)
    return Path(str(url.database)) if url.get_backend_name() == "sqlite" else None


def current_cipher(setup: Setup) -> RecordCipher:
    """What the server holds now: the keyring file as it is, with its passphrase."""
    keyring = load_keyring(setup.settings.keyring.path, desks.keyring_passphrase(setup.settings))
    return RecordCipher(lambda: keyring)


def opened_drafts(cipher: RecordCipher, rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Everything of the backup that opens with `cipher`, as text."""
    found = []
    for row in rows["conversations"]:
        try:
            found.append(str(open_turn(cipher, Conversation(**row)).record))
        except CryptoError:
            continue
    for row in rows["attachments"]:
        if row["dek_wrapped"] is None:
            continue
        try:
            dek = cipher.open_key("attachment", row["id"], row["dek_wrapped"])
            data = cipher.open(dek, "attachment", row["id"], "data", row["data_ct"])
            found.append(data.decode("latin-1"))
        except CryptoError:
            continue
    return found


def test_a_backup_from_drafting_time_opens_nothing_once_the_window_has_passed(
    setup: Setup, tmp_path: Path
) -> None:
    setup.clock.now = datetime.now(UTC) + timedelta(minutes=1)  # after the keyring's first epoch
    epochs = desks.build_draft_epochs(setup.settings, setup.cipher)
    assert epochs is not None
    defender = Defender(setup.service(), channel="telegram")
    defender.send("/start")
    script = threat_report("Kenya", details=DETAIL)
    play(defender, script[:7])
    defender.send(attachment=Attachment(PDF, "application/pdf", "summons.pdf"))
    defender.choose("done")
    play(defender, script[8:-1])  # up to the confirmation: the whole draft is written

    # Given a backup taken now, mid-draft (SQLite: the file and its WAL, as copied)...
    rows = backup_rows(setup)
    database = sqlite_files(setup)
    if database is not None:
        for suffix in ("", "-wal"):
            shutil.copyfile(f"{database}{suffix}", tmp_path / f"backup{suffix}")
    # ...the defender submits.
    play(defender, script[-1:])
    reference = defender.reference()
    if database is not None:
        # The write-ahead log was truncated at submission: no older frames in it.
        assert Path(f"{database}-wal").stat().st_size == 0

    # Within the window, the backup opens with the server's keyring: the exposure the
    # README documents (the draft, not the case: its key was never under the keyring).
    exposed = opened_drafts(current_cipher(setup), rows)
    assert any(DETAIL in text for text in exposed) and any(t.startswith("%PDF") for t in exposed)

    # When the window passes (idle time plus one epoch), with the service's hourly
    # shredding (here: its step, run at each hour the clock moves)...
    window = timedelta(hours=setup.settings.draft_idle_hours) + timedelta(
        minutes=setup.settings.keys.draft_epoch_minutes
    )
    destroyed = 0
    for _ in range(int(window / timedelta(hours=1)) + 2):
        setup.clock.advance(hours=1)
        destroyed += shred_draft_epochs(setup.sessions, epochs, setup.clock()).draft_epoch_keys
    assert destroyed >= 1

    # ...nothing of the backup opens with what the server then holds.
    server_now = current_cipher(setup)
    assert opened_drafts(server_now, rows) == []
    with pytest.raises(KeyNotFound):
        open_turn(server_now, Conversation(**rows["conversations"][0]))

    # Restore the backup beside the current keyring, as an attacker (or a careless
    # operator) would: on SQLite the very file and WAL copied mid-draft.
    setup.engine.dispose()
    if database is not None:
        Path(f"{database}-shm").unlink(missing_ok=True)
        for suffix in ("", "-wal"):
            shutil.copyfile(tmp_path / f"backup{suffix}", f"{database}{suffix}")
    else:
        with setup.engine.begin() as connection:
            for table in reversed(TABLES):
                connection.execute(delete(table))
            for table in TABLES:
                if rows[table.name]:
                    connection.execute(insert(table), rows[table.name])
    setup.engine, setup.sessions = desks.open_database(setup.settings)
    setup.cipher = desks.build_cipher(setup.settings, setup.sessions)
    with setup.sessions() as session:
        restored = list(session.scalars(select(Conversation)))
        assert restored  # the draft's row is back...
        for conversation in restored:  # ...and does not open
            with pytest.raises(KeyNotFound):
                open_turn(setup.cipher, conversation)
        for row in session.scalars(select(AttachmentRow).where(AttachmentRow.case_id.is_(None))):
            assert row.dek_wrapped is not None
            with pytest.raises(KeyNotFound):
                setup.cipher.open_key("attachment", row.id, row.dek_wrapped)
        # The case (on SQLite, not even in the backup) never opens with the keyring.
        case = session.scalar(select(Case).where(Case.reference == reference))
        if case is not None:
            assert case.dek_wrapped is None
            with pytest.raises(NoKeyAtHand):  # sealed to mission and recovery only
                open_case(session, setup.cipher, reference, None)

    # The bot answers normally: the defender is told their draft expired and starts over.
    again = Defender(setup.service(), channel="telegram")
    again.send("/start")
    assert "expired" in again.text and "threat_report" in again.choices
    again.choose("threat_report")
    assert again.replies
