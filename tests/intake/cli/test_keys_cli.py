"""Security staff's key commands at the command line, as they run them (subprocesses, SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from intake.config import load_settings
from intake.storage.engine import make_engine
from tests.support.defender import console_threat_report
from tests.support.setup import init_home

CLI = [sys.executable, "-m", "intake"]
REPORT = console_threat_report("CANARY-KEYS-DETAIL")


def run(
    env: dict[str, str], *args: str, stdin: str = "", code: int = 0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, input=stdin, text=True, capture_output=True, timeout=120
    )
    assert result.returncode == code, f"{args}: {result.returncode}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, module_database_env: dict[str, str]
) -> dict[str, str]:
    base = tmp_path_factory.mktemp("keys")
    home = base / "home"
    env = {**os.environ, "HRD_INTAKE_HOME": str(home), "BASE": str(base), **module_database_env}
    env.pop("HRD_INTAKE_PASSPHRASE", None)
    init_home(env)
    (home / "config.toml").write_text("[keys]\nretire_grace_minutes = 0\n")
    for name, by in (("ana", None), ("ben", "ana")):
        secret = base / f"{name}.pass"
        secret.write_text(f"{name} passphrase, long enough\n")
        extra = ["--by", env["ID_ana"], "--by-passphrase-file", env["PASS_ana"]] if by else []
        added = run(
            env,
            "officers", "add", "--mission", "eu-del-ke", "--name", name,
            "--passphrase-file", str(secret), "--json", *extra,
        )  # fmt: skip
        env[f"ID_{name}"] = json.loads(added.stdout)["id"]
        env[f"PASS_{name}"] = str(secret)
    chat = run(env, "chat", "--as", "defender-1", stdin=REPORT)
    env["REF"] = chat.stdout.split("Your reference is ")[1][:13]
    return env


def test_status_rotate_retire_rewrap_verify(world: dict[str, str]) -> None:
    status = run(world, "keys", "status", "--json")
    data = json.loads(status.stdout)
    assert [(k["kind"], k["version"], k["primary"]) for k in data["keyring"]] == [
        ("kek", 1, True),
        ("pseudonym", 1, True),
    ]
    assert "recovery-key.txt" in status.stderr and "move it offline" in status.stderr
    # An officer's reply waits in the outbox, wrapped under KEK version 1 (drafts are
    # under draft-epoch keys and the case is sealed: neither needs a KEK).
    ana = {
        **world,
        "HRD_INTAKE_OFFICER": world["ID_ana"],
        "HRD_INTAKE_PASSPHRASE_FILE": world["PASS_ana"],
    }
    run(ana, "queue", "reply", world["REF"], stdin="Are you safe?")
    assert "version 2 is now the primary" in run(world, "keys", "rotate").stdout

    refused = run(world, "keys", "retire", "1", code=1)
    assert "records still need it (deliveries: 1)" in refused.stderr
    assert "keys rewrap" in refused.stderr
    done = run(world, "keys", "rewrap", "--batch", "1", "--json")
    assert json.loads(done.stdout)["rewrapped"] == 1 and "records/s" in done.stderr
    assert "retired" in run(world, "keys", "retire", "1").stdout

    recovery = str(Path(world["HRD_INTAKE_HOME"]) / "recovery-key.txt")
    verified = run(world, "keys", "verify", "--recovery-key", recovery)
    assert "case: 1 checked" in verified.stdout and "every record checked opens" in verified.stdout
    sample = run(world, "keys", "verify", "--sample", "1")
    assert "sealed, not opened" in sample.stdout
    audit = json.loads(run(world, "audit", "list", "--json", "--limit", "200").stdout)
    actions = {entry["action"] for entry in audit}
    assert {
        "key.kek.rotate",
        "key.kek.rewrap",
        "key.kek.retire",
        "key.verify",
        "refused",
    } <= actions


def test_officer_rotation_revocation_and_mission_rotation(world: dict[str, str]) -> None:
    rotated = json.loads(run(world, "keys", "mission", "rotate", "eu-del-ke", "--json").stdout)
    assert rotated == {"mission": "eu-del-ke", "version": 2, "members": 2}
    moved = run(
        world, "officers", "rotate-key", world["ID_ana"], "--passphrase-file", world["PASS_ana"]
    )
    assert "2 mission key copies re-sealed" in moved.stdout
    ana = {
        **world,
        "HRD_INTAKE_OFFICER": world["ID_ana"],
        "HRD_INTAKE_PASSPHRASE_FILE": world["PASS_ana"],
    }
    shown = json.loads(run(ana, "queue", "show", world["REF"], "--json").stdout)
    assert shown["report"]["answers"]["details"] == "CANARY-KEYS-DETAIL"

    unlocked = run(world, "officers", "revoke", world["ID_ben"], "--compromised", code=1)
    assert "--by OFFICER or --recovery-key" in unlocked.stderr
    revoked = run(
        world, "officers", "revoke", world["ID_ben"], "--compromised",
        "--by", world["ID_ana"], "--by-passphrase-file", world["PASS_ana"],
    )  # fmt: skip
    # The case and the officer's reply on it (test_status_rotate_retire_rewrap_verify).
    assert "key version 3 started" in revoked.stdout and "2 records" in revoked.stdout
    again = json.loads(run(ana, "queue", "show", world["REF"], "--json").stdout)
    assert again["reference"] == world["REF"]


def test_recovery_rotation_and_tampering_found_by_verify(world: dict[str, str]) -> None:
    home = Path(world["HRD_INTAKE_HOME"])
    old, new = home / "recovery-key.txt", Path(world["BASE"]) / "new-recovery.txt"
    rotated = run(world, "keys", "recovery", "rotate", "--old", str(old), "--out", str(new))
    assert "MOVE IT OFFLINE" in rotated.stdout and "retired" in rotated.stdout
    assert run(world, "keys", "verify", "--recovery-key", str(new)).returncode == 0
    wrong = run(world, "keys", "verify", "--recovery-key", str(old), code=1)
    assert "not" in wrong.stderr or "active" in wrong.stderr
    old.unlink()  # moved offline
    assert "beside the database" not in run(world, "keys", "status").stderr

    # A flipped byte in a conversation's stored state is named, its content never shown.
    engine = make_engine(load_settings(world).database_url)
    with engine.begin() as db:
        conversation_id, state = db.execute(text("SELECT id, state_ct FROM conversations")).one()
        db.execute(
            text("UPDATE conversations SET state_ct = :state WHERE id = :id"),
            {"state": state[:-1] + bytes([state[-1] ^ 1]), "id": conversation_id},
        )
    broken = run(world, "keys", "verify", "--json", code=1)
    report = json.loads(broken.stdout)
    assert report["failures"] == [
        {"record_type": "conversation", "record_id": conversation_id, "problem": "Tampered"}
    ]
    assert "CANARY" not in broken.stdout + broken.stderr
    with engine.begin() as db:
        db.execute(
            text("UPDATE conversations SET state_ct = :state WHERE id = :id"),
            {"state": state, "id": conversation_id},
        )
    engine.dispose()


def test_purge_is_audited_with_counts_only(world: dict[str, str]) -> None:
    dry = json.loads(run(world, "purge", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["cases"] == 0
    run(world, "purge")
    [entry] = [
        e
        for e in json.loads(run(world, "audit", "list", "--json").stdout)
        if e["action"] == "purge"
    ]
    assert all(isinstance(value, int) for value in entry["detail"].values())
    assert "intact" in run(world, "audit", "verify").stdout
