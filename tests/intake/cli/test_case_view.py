"""`queue show --json`: what an officer's script reads of a case, and what it never gets."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from flows import CountryMatcher, load_catalog, load_specs
from intake.cli.case_view import print_case
from intake.storage.models import Case
from intake.triage.actions import AttachmentContent, OpenedCase
from intake.triage.case_file import CaseRenderer

FILE_KEY = base64.b64encode(b"K" * 32).decode("ascii")
CONVERSATION_ID = "c0ffee" * 5 + "00"
ATTACHMENT_ID = "feed" * 8


def test_json_carries_no_key_material_and_no_internal_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    when = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    case = Case(
        id="ab" * 16,
        reference="HRD-7KQ2-M9XD",
        mission_id="eu-del-ke",
        kind="threat_report",
        urgency="days",
        urgency_rank=1,
        status="new",
        flagged=False,
        claimed_by=None,
        submitted_at=when,
        updated_at=when,
        payload_ct=b"",
    )
    payload = {
        "flow": "threat_report",
        "language": "en",
        "answers": {"details": "What happened"},
        "routing": {"kind": "threat_report", "country": "KE"},
        "attachments": {ATTACHMENT_ID: FILE_KEY},
        "conversation": CONVERSATION_ID,
        "return": {"channel": "telegram", "chat": "4242", "sender": "4242"},
    }
    files = (AttachmentContent(ATTACHMENT_ID, "image/png", "x.png", b"\x89PNG"),)
    opened = OpenedCase(case, payload, files, ())
    catalog = load_catalog()
    renderer = CaseRenderer(catalog, load_specs(catalog=catalog), CountryMatcher(catalog.languages))
    print_case(Console(), renderer.render(opened, [], "en"), opened, None, as_json=True)

    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["report"]["answers"] == {"details": "What happened"}
    assert shown["attachments"] == [{"n": 1, "media_type": "image/png", "name": "x.png", "size": 4}]
    for secret in (FILE_KEY, CONVERSATION_ID, ATTACHMENT_ID, case.id, "4242"):
        assert secret not in out
    assert not re.search(r"[0-9a-f]{32}", out)
