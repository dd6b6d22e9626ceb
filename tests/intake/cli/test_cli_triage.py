"""Officers and security staff at the command line: the whole triage path as operators run it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from intake.config import load_settings
from intake.core import desks
from intake.storage.engine import make_engine
from tests.support import scan
from tests.support.defender import console_threat_report
from tests.support.setup import Clock, Setup, init_home

CLI = [sys.executable, "-m", "intake"]
REPORT = console_threat_report("CANARY-CLI-DETAIL")


def run(
    env: dict[str, str], *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, input=stdin, text=True, capture_output=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, module_database_env: dict[str, str]
) -> dict[str, str]:
    base = tmp_path_factory.mktemp("triage")
    env = {**os.environ, "HRD_INTAKE_HOME": str(base / "home"), **module_database_env}
    env.pop("HRD_INTAKE_PASSPHRASE", None)
    init_home(env)
    for name, mission in (("ana", "eu-del-ke"), ("ivan", "eu-del-ua")):
        secret = base / f"{name}.pass"
        secret.write_text(f"{name} passphrase, long enough\n")
        added = json.loads(
            run(
                env,
                "officers",
                "add",
                "--mission",
                mission,
                "--name",
                name,
                "--passphrase-file",
                str(secret),
                "--json",
            ).stdout
        )
        env[f"ID_{name}"] = added["id"]
        env[f"PASS_{name}"] = str(secret)
    return env


def as_officer(env: dict[str, str], name: str) -> dict[str, str]:
    return {
        **env,
        "HRD_INTAKE_OFFICER": env[f"ID_{name}"],
        "HRD_INTAKE_PASSPHRASE_FILE": env[f"PASS_{name}"],
    }


def test_officer_workflow_end_to_end(world: dict[str, str]) -> None:
    chat = run(world, "chat", "--as", "defender-7", stdin=REPORT)
    reference = chat.stdout.split("Your reference is ")[1][:13]
    ana, ivan = as_officer(world, "ana"), as_officer(world, "ivan")

    mine = json.loads(run(ana, "queue", "list", "--json").stdout)
    assert reference in {c["reference"] for c in mine}
    assert reference not in {
        c["reference"] for c in json.loads(run(ivan, "queue", "list", "--json").stdout)
    }

    shown = json.loads(run(ana, "queue", "show", reference, "--json").stdout)
    assert shown["report"]["answers"]["details"] == "CANARY-CLI-DETAIL"
    run(ana, "queue", "ack", reference)
    refused = run(ana, "queue", "ack", reference, check=False)
    assert refused.returncode == 1 and "does not allow `ack`" in refused.stderr
    run(ana, "queue", "claim", reference)
    run(ana, "queue", "note", reference, stdin="CANARY-NOTE lawyer informed")
    run(ana, "queue", "reply", reference, stdin="CANARY-REPLY Are you safe?")

    # The defender comes back to the console: the reply is there; they answer.
    back = run(world, "chat", "--as", "defender-7", stdin="CANARY-ANSWER yes, safe\n")
    assert "CANARY-REPLY Are you safe?" in back.stdout
    assert "passed on" in back.stdout
    shown = json.loads(run(ana, "queue", "show", reference, "--json").stdout)
    assert [e["kind"] for e in shown["events"]] == ["note", "reply", "defender"]
    # The reply moved the case to awaiting_defender; the answer back to in_progress, answered.
    assert shown["status"] == "in_progress" and shown["answered"] is True
    kinds = [t["kind"] for t in shown["timeline"]]
    assert kinds[:3] == ["submitted", "state", "claim"] and "defender" in kinds
    labels = {a["label"]: a["value"] for a in shown["answers"]}
    assert labels["Person at risk"] == "Me" and labels["Country"] == "Kenya"
    assert reference in run(ana, "queue", "list").stdout  # never cut, even at 80 columns
    listed = json.loads(run(ana, "queue", "list", "--answered", "--json").stdout)
    assert [c["reference"] for c in listed] == [reference] and listed[0]["answered"]

    # Another mission's officer is refused, and the refusal is audited.
    other = run(ivan, "queue", "show", reference, check=False)
    assert other.returncode == 1 and "not in the queue" in other.stderr
    log = json.loads(run(world, "audit", "list", "--json", "--limit", "5").stdout)
    assert log[0]["action"] == "refused" and log[0]["actor"] == f"officer:{world['ID_ivan']}"

    run(ana, "queue", "transfer", reference, "--to", "eu-del-ua")
    assert run(ana, "queue", "show", reference, check=False).returncode == 1
    assert (
        json.loads(run(ivan, "queue", "show", reference, "--json").stdout)["status"]
        == "transferred"
    )
    no_reason = run(ivan, "queue", "close", reference, check=False)
    assert no_reason.returncode == 1 and "reason" in no_reason.stderr
    run(ivan, "queue", "close", reference, stdin="CANARY-REASON resolved")
    hidden = json.loads(run(ivan, "queue", "list", "--json").stdout)
    assert reference not in {c["reference"] for c in hidden}
    closed = json.loads(run(ivan, "queue", "list", "--closed", "--json").stdout)
    assert reference in {c["reference"] for c in closed}
    timeline = json.loads(run(ivan, "queue", "show", reference, "--json").stdout)["timeline"]
    assert timeline[-1]["what"] == "closed" and timeline[-1]["text"] == "CANARY-REASON resolved"
    assert any(t["kind"] == "transfer" for t in timeline)
    assert "intact" in run(world, "audit", "verify").stdout

    # Nothing anyone wrote is readable at rest.
    home = Path(world["HRD_INTAKE_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.name != "recovery-key.txt":
            assert b"CANARY" not in path.read_bytes(), path


def test_wrong_passphrase_and_revoked_officer(world: dict[str, str], tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    env = {**as_officer(world, "ana"), "HRD_INTAKE_PASSPHRASE_FILE": str(wrong)}
    result = run(env, "queue", "list", "--json")  # listing needs no key
    assert result.returncode == 0
    refused = run(env, "queue", "show", "HRD-0000-0000", check=False)
    assert refused.returncode == 1
    secret = tmp_path / "temp.pass"
    secret.write_text("a temporary officer passphrase\n")
    temp = json.loads(
        run(
            world,
            "officers",
            "add",
            "--mission",
            "eu-del-ke",
            "--name",
            "Temp",
            "--passphrase-file",
            str(secret),
            "--recovery-key",
            str(Path(world["HRD_INTAKE_HOME"]) / "recovery-key.txt"),
            "--json",
        ).stdout
    )
    kept = run(world, "officers", "revoke", temp["id"], "--keep-mission-key")
    assert "key kept" in kept.stdout
    again = run(world, "officers", "revoke", temp["id"], "--keep-mission-key", check=False)
    assert again.returncode == 1 and "already revoked" in again.stderr
    revoked = {**world, "HRD_INTAKE_OFFICER": temp["id"], "HRD_INTAKE_PASSPHRASE_FILE": str(secret)}
    denied = run(revoked, "queue", "list", check=False)
    assert denied.returncode == 1 and "revoked" in denied.stderr


def test_audit_verify_names_an_edited_entry(world: dict[str, str]) -> None:
    engine = make_engine(load_settings(world).database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'officer:forged' WHERE seq = 2"))
    engine.dispose()
    broken = run(world, "audit", "verify", check=False)
    assert broken.returncode == 1 and "audit entry 2" in broken.stderr


def test_cases_nobody_can_read_are_reported_and_guarded(world: dict[str, str]) -> None:
    # init said which missions had no officer yet (the world's own init was silent on it)
    home = Path(world["HRD_INTAKE_HOME"]).parent / "fresh"
    fresh = run({**world, "HRD_INTAKE_HOME": str(home)}, "init", "--demo")
    assert "no officer yet in" in fresh.stderr and "eu-del-co" in fresh.stderr
    # A transfer to a mission without officers is refused, then forced
    chat = run(world, "chat", "--as", "defender-unread", stdin=REPORT)
    reference = chat.stdout.split("Your reference is ")[1][:13]
    ana = as_officer(world, "ana")
    refused = run(ana, "queue", "transfer", reference, "--to", "eu-del-co", check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    run(ana, "queue", "transfer", reference, "--to", "eu-del-co", "--force")
    # keys status fails, naming the mission and the command that fixes it
    status = run(world, "keys", "status", check=False)
    assert status.returncode == 1
    assert "eu-del-co holds 1 case(s)" in status.stderr
    assert "officers add --mission eu-del-co" in status.stderr
    # Revoking a mission's last officer needs --force
    last = run(world, "officers", "revoke", world["ID_ivan"], check=False)
    assert last.returncode == 1 and "--force" in last.stderr and "eu-del-ua" in last.stderr


def test_a_long_typed_officer_id_is_refused_and_audited(world: dict[str, str]) -> None:
    typed = "x" * 93  # `officer:` and these overflowed the audit log's actor column (100)
    for env, args in (
        ({**world, "HRD_INTAKE_OFFICER": typed}, ("queue", "list", "--mine")),
        (world, ("queue", "show", "HRD-0000-0000", "--officer", "a" * 5000)),
        (world, ("queue", "claim", "HRD-0000-0000", "--officer", "Ana Officer")),
    ):
        refused = run(env, *args, check=False)
        assert refused.returncode == 1, refused.stderr
        assert "Traceback" not in refused.stderr and "no such officer" in refused.stderr
    entries = json.loads(run(world, "audit", "list", "--limit", "3", "--json").stdout)
    assert [e["actor"] for e in entries] == ["officer:unknown-id"] * 3
    # A reference longer than any (the refusal's subject) is refused before anything else.
    wrong = {**as_officer(world, "ana"), "HRD_INTAKE_PASSPHRASE_FILE": world["PASS_ivan"]}
    for env in (wrong, {**world, "HRD_INTAKE_OFFICER": "x" * 93}):
        refused = run(env, "queue", "show", "HRD-" + "0" * 150, check=False)
        assert refused.returncode == 1 and "not a case reference" in refused.stderr, refused.stderr


def test_a_canary_typed_as_the_officer_is_nowhere_at_rest(world: dict[str, str]) -> None:
    # Everything the CLI logs, to its log file; a passphrase for the commands that ask first.
    env = {**world, "HRD_INTAKE_LOG_LEVEL": "DEBUG", "HRD_INTAKE_PASSPHRASE_FILE": world["PASS_ana"]}
    started, tag = time.time(), secrets.token_hex(6)
    canaries = [f"canary-{tag}-0000", f"canary passphrase {tag}", f"canary-{tag}-" + "q" * 300]
    for typed in canaries:
        for args in (
            ("queue", "show", "HRD-0000-0000", "--officer", typed),
            ("queue", "claim", "HRD-0000-0000"),  # HRD_INTAKE_OFFICER
            ("officers", "rotate-key", typed),
            ("officers", "revoke", typed, "--keep-mission-key"),
        ):
            refused = run({**env, "HRD_INTAKE_OFFICER": typed}, *args, check=False)
            assert refused.returncode == 1 and "no such officer" in refused.stderr, refused.stderr
    settings = load_settings(world)
    engine, sessions = desks.open_database(settings)
    try:
        setup = Setup(settings, world, engine, sessions, desks.build_cipher(settings, sessions), Clock())
        files = scan.at_rest(setup, started)
        assert scan.leaks(["officer:unknown-id"], files) != []  # the scan reads the audit log
        found = scan.leaks([tag], files)
        assert found == [], [(canary, path.name) for canary, path in found]
    finally:
        engine.dispose()
