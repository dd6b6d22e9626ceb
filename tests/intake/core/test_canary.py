"""Canaries: what a defender wrote and who they are appear nowhere at rest."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from intake.triage.queue import list_cases, open_case
from tests.support.defender import Defender, console_threat_report, play, threat_report
from tests.support.scan import at_rest, files_under, leaks
from tests.support.setup import Setup


def test_description_and_sender_never_reach_the_disk(
    primary_setup: Setup, debug_log: Callable[..., Path]
) -> None:
    setup = primary_setup
    debug_log(setup.settings.log_path)
    details = f"CANARY-DETAIL-{secrets.token_hex(8)}"
    sender = f"CANARY-SENDER-{secrets.token_hex(8)}"
    chat = f"CANARY-CHAT-{secrets.token_hex(8)}"
    contact = f"CANARY-CONTACT-{secrets.token_hex(8)}"

    started = time.time()
    defender = Defender(setup.service(), sender=sender, chat=chat)
    defender.send("/start")
    script = threat_report(details=details)
    script[9] = ("say", contact)
    play(defender, script)

    assert leaks([details, sender, chat, contact], at_rest(setup, started)) == []
    # ...yet the officer's view shows the description.
    with setup.sessions() as session:
        [case] = list_cases(session)
        payload = open_case(session, setup.cipher, case.reference, setup.recovery).payload
    assert payload["answers"]["details"] == details
    assert payload["answers"]["contact"] == contact
    assert setup.settings.log_path.stat().st_size > 0


def test_cli_run_leaks_nothing_and_queue_show_displays(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HRD_INTAKE_HOME": str(home), "HRD_INTAKE_LOG_LEVEL": "DEBUG"}
    env |= database_env
    cli = [sys.executable, "-m", "intake"]
    details = f"CANARY-{secrets.token_hex(8)}"
    sender = f"SENDER-{secrets.token_hex(8)}"
    subprocess.run([*cli, "init", "--demo"], env=env, check=True, capture_output=True)
    script = console_threat_report(details)
    chat = subprocess.run(
        [*cli, "chat", "--as", sender],
        env=env,
        input=script,
        text=True,
        capture_output=True,
        check=True,
    )
    assert "HRD-" in chat.stdout

    found = leaks([details, sender], files_under(home))
    assert found == []
    listing = subprocess.run(
        [*cli, "queue", "list", "--json"], env=env, text=True, capture_output=True, check=True
    )
    assert details not in listing.stdout
    reference = chat.stdout.split("Your reference is ")[1][:13]
    recovery = str(home / "recovery-key.txt")
    shown = subprocess.run(
        [*cli, "queue", "show", reference, "--recovery-key", recovery],
        env=env,
        text=True,
        capture_output=True,
        check=True,
    )
    assert details in shown.stdout
    # Files created by the CLI are private to the user.
    for path in files_under(home):
        assert path.stat().st_mode & 0o077 == 0, path
