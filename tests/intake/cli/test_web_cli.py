"""`hrd-intake officers web-enrol` and `hrd-intake web` from the command line."""

from __future__ import annotations

import re

from click.testing import CliRunner

from intake.cli.main import cli
from intake.storage import audit
from tests.support.officers import enrol
from tests.support.setup import Setup


def test_web_enrol_prints_a_one_time_code_and_audits_it(setup: Setup) -> None:
    officer, _ = enrol(setup, "eu-del-ke", "Ana Officer")
    result = CliRunner().invoke(cli, ["officers", "web-enrol", officer], env=setup.env)
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){3}", result.stdout.strip())
    with setup.sessions() as session:
        entries = audit.list_entries(session, subject=officer)
    assert entries[0].action == "web.enrol_code"
    unknown = CliRunner().invoke(cli, ["officers", "web-enrol", "nobody-0000"], env=setup.env)
    assert unknown.exit_code == 1


def test_web_refuses_a_public_address(setup: Setup) -> None:
    result = CliRunner().invoke(cli, ["web", "--listen", "0.0.0.0:8088"], env=setup.env)
    assert result.exit_code == 3 and "not on loopback" in result.output
