"""`hrd-intake queue checkins`: officers see their mission's running check-ins, metadata only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.setup import init_home

CLI = [sys.executable, "-m", "intake"]
CHECKIN = "3\n1\nCANARY-WHERE court\nCANARY-WHO lawyer\nKenya\n1\n2\n1\nsunflower\nthunder\n1\n"


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLI, *args], env=env, input=stdin, text=True, capture_output=True, timeout=120
    )
    assert result.returncode == 0, f"{args} failed ({result.returncode}): {result.stderr}"
    return result


def test_queue_checkins_lists_metadata_of_the_officers_mission(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    env = {**os.environ, "HRD_INTAKE_HOME": str(tmp_path / "home"), **database_env}
    env.pop("HRD_INTAKE_PASSPHRASE", None)
    env.pop("HRD_INTAKE_OFFICER", None)
    init_home(env)
    chat = run(env, "chat", stdin=CHECKIN)
    assert "Your check-in is set" in chat.stdout
    secret = tmp_path / "ana.pass"
    secret.write_text("ana passphrase, long enough\n")
    ana = json.loads(
        run(env, "officers", "add", "--mission", "eu-del-ke", "--name", "Ana",
            "--passphrase-file", str(secret), "--json").stdout
    )["id"]
    ivan = json.loads(
        run(env, "officers", "add", "--mission", "eu-del-ua", "--name", "Ivan",
            "--passphrase-file", str(secret), "--json").stdout
    )["id"]

    [listed] = json.loads(run(env, "queue", "checkins", "--officer", ana, "--json").stdout)
    assert listed["mission"] == "eu-del-ke" and listed["state"] == "scheduled"
    assert listed["mode"] == "interval" and listed["interval_minutes"] == 120
    assert listed["next_due_at"] is not None
    assert "CANARY" not in json.dumps(listed)
    assert json.loads(run(env, "queue", "checkins", "--officer", ivan, "--json").stdout) == []
    refused = subprocess.run(
        [*CLI, "queue", "checkins", "--officer", ivan, "--mission", "eu-del-ke"],
        env=env, text=True, capture_output=True, timeout=120,
    )
    assert refused.returncode == 1
    table = run(env, "queue", "checkins").stdout  # the operator's view: every mission
    assert "eu-del-ke" in table and "scheduled" in table
