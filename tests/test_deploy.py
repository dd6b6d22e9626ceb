"""The deployment files: docker-compose validates, they follow the rules, and each
service's own command runs here against this machine's PostgreSQL and Synapse.

No container engine exists on these machines: Debian's `docker-compose`
(installed by `make test` where apt-get exists) validates the file, and the
commands the containers would run are run directly, with the paths and
hosts of this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from intake.storage import migrate
from intake.storage.engine import make_engine
from intake.triage.missions import DEMO_DIRECTORY
from tests.support.serve import free_port, get, readiness, wait_until
from tests.support.synapse import default_venv_dir, ensure_synapse_venv, skip_reason

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ["-f", "docker-compose.yml"]
MATRIX_TEST = [*COMPOSE, "-f", "deploy/synapse/matrix-test.yml", "--profile", "matrix"]
VENV_BIN = Path(sys.executable).parent


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI: `make test` installs it with apt-get")
        pytest.skip("docker-compose is not installed (`make test` installs it where apt-get is)")
    return found


def compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The whole file as docker-compose understands it, every profile on."""
    result = compose(*COMPOSE, "--profile", "matrix", "--profile", "admin", "config")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_the_compose_files_validate() -> None:
    for args in (COMPOSE, MATRIX_TEST):
        result = compose(*args, "config", "-q")
        assert result.returncode == 0, result.stderr


def test_secrets_come_from_files_and_state_from_volumes(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == {"postgres", "bot", "admin", "synapse"}
    assert services["synapse"]["profiles"] == ["matrix"]
    assert all("file" in secret for secret in resolved["secrets"].values())
    postgres = services["postgres"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert mounts(postgres)["/var/lib/postgresql/data"] == ("pgdata", "rw")
    for name in ("bot", "admin"):
        env = services[name]["environment"]
        # No secret inline: each one is a *_FILE under /run/secrets, the database URL
        # has no password (libpq reads PGPASSFILE).
        for key, value in env.items():
            if any(word in key for word in ("PASSWORD", "TOKEN", "PASSPHRASE", "PGPASS")):
                assert key.endswith("_FILE") or key == "PGPASSFILE", key
                assert value.startswith("/run/secrets/"), key
        assert make_url(env["HRD_INTAKE_DATABASE_URL"]).password is None
        assert env["HRD_INTAKE_HOME"] == "/var/lib/hrd-intake"
        assert env["HRD_INTAKE_HTTP_ADDR"].startswith("127.0.0.1:")
        assert mounts(services[name])["/var/lib/hrd-intake"] == ("hrd-home", "rw")
    bot = services["bot"]
    assert bot["entrypoint"] + bot["command"] == [
        "/bin/sh",
        "-c",
        "hrd-intake db upgrade && exec hrd-intake serve",
    ]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert mounts(services["synapse"])["/config"] == (str(ROOT / "deploy" / "synapse"), "ro")
    assert all(port.startswith("127.0.0.1:") for port in services["synapse"]["ports"])


def test_the_image_runs_as_an_unprivileged_user_with_its_home_in_a_volume() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Both stages on the one base image, pinned by digest (tests/test_supply_chain.py).
    assert [line for line in lines if line.startswith("FROM")] == [
        "FROM ${BASE} AS build",
        "FROM ${BASE}",
    ]
    assert any(line.startswith("ARG BASE=python:3.11-slim@sha256:") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    text = "\n".join(lines)
    assert "pip install --no-cache-dir --no-deps --no-build-isolation ." in text
    assert "HRD_INTAKE_HOME=/var/lib/hrd-intake" in text
    assert 'VOLUME ["/var/lib/hrd-intake"]' in text
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # nothing but the package goes in


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, mode), from docker-compose 1.29's short syntax."""
    found = {}
    for volume in service["volumes"]:
        source, target, mode = volume.rsplit(":", 2)
        found[target] = (source, mode)
    return found


def _secret(path: Path, value: str) -> str:
    path.write_text(value + ("\n" if value else ""))
    path.chmod(0o600)
    return str(path)


@pytest.mark.slow
def test_the_bot_command_migrates_then_serves_and_answers_its_healthcheck(
    resolved: dict[str, Any], pg_url: str, tmp_path: Path
) -> None:
    bot = resolved["services"]["bot"]
    # Given the bot's environment with this machine's paths, database and a free port,
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    env = {**os.environ, **bot["environment"]}
    env |= {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HRD_INTAKE_HOME": str(tmp_path / "home"),
        "HRD_INTAKE_DATABASE_URL": pg_url,
        "PGPASSFILE": _secret(secrets / "pgpass", "*:*:*:*:unused-with-trust-auth"),
        "HRD_INTAKE_KEYRING_PASSPHRASE_FILE": _secret(secrets / "keyring", "a long passphrase"),
        "HRD_INTAKE_TELEGRAM_TOKEN_FILE": _secret(secrets / "telegram_token", ""),
        "HRD_INTAKE_MATRIX_PASSWORD_FILE": _secret(secrets / "matrix_password", ""),
        "HRD_INTAKE_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    port = int(env["HRD_INTAKE_HTTP_ADDR"].rsplit(":", 1)[1])
    # and the one-off setup the README runs first (`docker-compose run --rm admin init`),
    admin = resolved["services"]["admin"]
    init = subprocess.run(
        [*admin["entrypoint"], "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    assert "generated" not in init.stderr  # the passphrase came from its secret file
    # with its missions directory (serve refuses a fallback queue naming no mission),
    imported = subprocess.run(
        [*admin["entrypoint"], "missions", "import", str(DEMO_DIRECTORY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    engine = make_engine(pg_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    # when the container's command runs (no channel configured: the console on stdin),
    log = (tmp_path / "bot.log").open("wb")
    process = subprocess.Popen(
        [*bot["entrypoint"], *bot["command"]],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        # then it answers its healthcheck, is ready, and serves metrics,
        wait_until(lambda: get(port, "/healthz")[0] == 200, 60, "/healthz")
        healthcheck = subprocess.run(
            [*bot["healthcheck"]["test"][1:]], env=env, capture_output=True, timeout=30
        )
        assert healthcheck.returncode == 0, healthcheck.stderr
        assert readiness(port)["ready"] is True
        status, metrics = get(port, "/metrics")
        assert status == 200 and "hrd_intake_database_up 1" in metrics
        # and stops cleanly on SIGTERM (what `docker stop` sends).
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        engine.dispose()
    for line in (tmp_path / "home" / "logs" / "hrd-intake.log").read_text().splitlines():
        json.loads(line)  # HRD_INTAKE_LOG_FORMAT=json from the compose file


def test_the_postgres_healthcheck_command_answers_here(resolved: dict[str, Any]) -> None:
    test = resolved["services"]["postgres"]["healthcheck"]["test"]
    if shutil.which(test[1]) is None:
        pytest.skip(f"{test[1]} is not installed here")
    # Inside its container pg_isready reaches the local socket; here, 127.0.0.1.
    result = subprocess.run([*test[1:], "-h", "127.0.0.1"], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_the_synapse_configuration_starts_the_pinned_synapse(tmp_path: Path) -> None:
    reason = skip_reason(default_venv_dir())
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"Synapse is required in CI: {reason}")
        pytest.skip(reason)
    python = ensure_synapse_venv(default_venv_dir())
    # The shipped configuration, with this machine's paths for the container's mounts
    # and a free loopback port for 8008.
    config = yaml.safe_load((ROOT / "deploy" / "synapse" / "homeserver.yaml").read_text())
    assert not {"registration_shared_secret", "macaroon_secret_key", "form_secret"} & set(config)
    data, port = tmp_path / "data", free_port()
    data.mkdir()
    secret = tmp_path / "registration_secret"
    secret.write_text("a registration secret\n")
    text = json.dumps(config)
    text = text.replace('"/data/', f'"{data}/').replace('"/config/', f'"{ROOT}/deploy/synapse/')
    text = text.replace('"/run/secrets/synapse_registration_secret"', json.dumps(str(secret)))
    local = json.loads(text)
    local["listeners"][0] |= {"port": port, "bind_addresses": ["127.0.0.1"]}
    local["public_baseurl"] = f"http://127.0.0.1:{port}/"
    path = tmp_path / "homeserver.yaml"
    path.write_text(json.dumps(local))
    command = [str(python), "-m", "synapse.app.homeserver", "-c", str(path)]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}/_matrix/client/versions"

        def answers() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    return int(response.status) == 200
            except OSError:
                return False

        wait_until(answers, 60, "Synapse with the shipped configuration")
        assert (data / "signing.key").exists()  # generated into the data volume
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        time.sleep(0)
