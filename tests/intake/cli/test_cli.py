"""The hrd-intake command line, run as operators run it (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.defender import console_threat_report

CLI = [sys.executable, "-m", "intake"]
THREAT_REPORT_KENYA = console_threat_report()


def run(
    env: dict[str, str], *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, input=stdin, text=True, capture_output=True, check=check, timeout=60
    )


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, module_database_env: dict[str, str]
) -> dict[str, str]:
    home = tmp_path_factory.mktemp("cli") / "home"
    environment = {**os.environ, "HRD_INTAKE_HOME": str(home), **module_database_env}
    init = run(environment, "init", "--demo")
    assert "keyring created" in init.stdout
    assert "generated" in init.stderr  # the loud warning about the passphrase file
    assert "MOVE IT OFFLINE" in init.stderr  # and about the recovery key
    return environment


def test_scripted_chat_files_a_report_listed_in_the_right_queue(env: dict[str, str]) -> None:
    chat = run(env, "chat", stdin=THREAT_REPORT_KENYA)
    reference = chat.stdout.split("Your reference is ")[1][:13]
    listing = json.loads(run(env, "queue", "list", "--json").stdout)
    mine = [case for case in listing if case["reference"] == reference]
    assert mine and mine[0]["mission"] == "eu-del-ke"
    assert (mine[0]["kind"], mine[0]["urgency"], mine[0]["status"]) == (
        "threat_report",
        "immediate",
        "new",
    )
    only_ke = json.loads(run(env, "queue", "list", "--json", "--mission", "eu-del-ua").stdout)
    assert reference not in {case["reference"] for case in only_ke}
    recovery = str(Path(env["HRD_INTAKE_HOME"]) / "recovery-key.txt")
    shown = json.loads(
        run(env, "queue", "show", reference.lower(), "--json", "--recovery-key", recovery).stdout
    )
    assert shown["report"]["answers"]["details"] == "They followed me."


def test_init_if_absent_is_idempotent(env: dict[str, str]) -> None:
    again = run(env, "init", "--demo", "--if-absent")
    assert "setup exists" in again.stdout


def test_missions_import_and_list(env: dict[str, str], tmp_path: Path) -> None:
    directory = tmp_path / "missions.yaml"
    directory.write_text(
        "missions:\n  - {id: eu-del-br, name: EU Delegation to Brazil, kind: delegation, countries: [BR]}\n"
    )
    assert "1 added" in run(env, "missions", "import", str(directory)).stdout
    missions = json.loads(run(env, "missions", "list", "--json").stdout)
    assert {"id": "eu-del-br", "countries": ["BR"]}.items() <= next(
        m for m in missions if m["id"] == "eu-del-br"
    ).items()
    bad = tmp_path / "bad.yaml"
    bad.write_text("missions: [{id: x1, name: X, kind: delegation, countries: [XX]}]\n")
    refused = run(env, "missions", "import", str(bad), check=False)
    assert refused.returncode == 1 and "ISO 3166" in refused.stderr
    assert "mission 1 (x1): countries:" in refused.stderr
    second = tmp_path / "second.yaml"
    second.write_text("missions: [{id: eu-del-ke2, name: Y, kind: delegation, countries: [KE]}]\n")
    twice = run(env, "missions", "import", str(second), check=False)
    assert twice.returncode == 1 and "both delegations serving KE" in twice.stderr


def test_missions_import_warns_of_a_configuration_that_cannot_route(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[routing]\nfallback = "eu-hq"\n', encoding="utf-8")
    directory = tmp_path / "missions.yaml"
    directory.write_text("missions:\n  - {id: eu-del-mx, name: EU Delegation to Mexico, kind: delegation, countries: [MX]}\n")
    result = run({**env, "HRD_INTAKE_CONFIG": str(config)}, "missions", "import", str(directory))
    assert "routing.fallback = 'eu-hq' is not a mission" in result.stderr


def test_unknown_case_is_refused(env: dict[str, str]) -> None:
    recovery = str(Path(env["HRD_INTAKE_HOME"]) / "recovery-key.txt")
    result = run(env, "queue", "show", "HRD-0000-0000", "--recovery-key", recovery, check=False)
    assert result.returncode == 1
    assert "no case" in result.stderr
    anonymous = run(env, "queue", "show", "HRD-0000-0000", check=False)
    assert anonymous.returncode == 1 and "--officer" in anonymous.stderr


def test_missing_setup_exits_3(tmp_path: Path, database_env: dict[str, str]) -> None:
    environment = {**os.environ, "HRD_INTAKE_HOME": str(tmp_path / "nothing"), **database_env}
    result = run(environment, "queue", "list", check=False)
    assert result.returncode == 3
    assert "hrd-intake init" in result.stderr
    assert not (tmp_path / "nothing" / "intake.db").exists()


def test_flows_diagram_and_missing(env: dict[str, str]) -> None:
    diagram = run(env, "flows", "diagram", "threat_report").stdout
    assert diagram.startswith("flowchart") and "details" in diagram
    assert "en:" not in run(env, "flows", "missing").stdout
    assert run(env, "flows", "diagram", "nope", check=False).returncode == 1


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[routing]\nfallback = "eu-hq"\n', "routing.fallback = 'eu-hq'"),
        (
            '[[routing.rules]]\nmission = "eu-del-ke"\ncategories = ["emergncy_grant"]\n',
            "'emergncy_grant'",
        ),
        ('default_language = "xx"\n', "default_language = 'xx'"),
    ],
)
def test_chat_refuses_a_configuration_that_cannot_route(
    env: dict[str, str], tmp_path: Path, toml: str, named: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml, encoding="utf-8")
    chat = run({**env, "HRD_INTAKE_CONFIG": str(config)}, "chat", stdin="hello\n", check=False)
    assert chat.returncode == 3
    assert named in chat.stderr
    assert "Sorry" not in chat.stdout
