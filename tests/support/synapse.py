"""A real Synapse homeserver on 127.0.0.1 for tests.

Synapse is installed from PyPI into its own virtual environment (never the
project's), once, under a cache folder: `<repo>/.cache/synapse-venv` unless
`HRD_TEST_SYNAPSE_VENV` names another. `synapse_requirements.txt` beside this
file locks its dependencies; changing it or `SYNAPSE_SPEC` reinstalls.

    python = ensure_synapse_venv(default_venv_dir())
    with Synapse(python) as hs:
        user_id, token = hs.register("alice", "pw")
        ...  # talk to hs.base_url

Each `Synapse` is a fresh server (SQLite, tmp dir, random port, no federation,
no outbound lookups, high rate limits, encryption left to the room creator),
stopped on exit. Registration uses the shared-secret admin API over urllib, so
this module needs only the standard library.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

SYNAPSE_SPEC = "matrix-synapse>=1.163.2,<1.164"
LOCK_FILE = Path(__file__).with_name("synapse_requirements.txt")
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_NAME = "localhost"
_STAMP = ".hrd-synapse-stamp"
_HIGH = {"per_second": 1000, "burst_count": 10000}


def default_venv_dir() -> Path:
    """The Synapse venv folder: `$HRD_TEST_SYNAPSE_VENV` or `<repo>/.cache/synapse-venv`."""
    env = os.environ.get("HRD_TEST_SYNAPSE_VENV")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "synapse-venv"


def _say(message: str) -> None:
    print(f"[synapse] {message}", file=sys.stderr, flush=True)


def _stamp_text() -> str:
    lock_hash = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    return f"{SYNAPSE_SPEC}\nlock sha256 {lock_hash}\npython {sys.version_info[:2]}\n"


def _clean_env() -> dict[str, str]:
    """The environment without the project venv's markers, so nothing of it leaks in."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(  # fixed argv: our own venv's python and pip
        args, capture_output=True, text=True, check=False, env=_clean_env()
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-3000:]
        raise RuntimeError(f"{what} failed (exit {result.returncode}):\n{tail}")


def ensure_synapse_venv(cache_dir: Path) -> Path:
    """Create `cache_dir` as a venv holding Synapse (once); return its python.

    Idempotent: a stamp file records the spec, lock hash and Python version.
    A file lock beside the folder serialises parallel callers (xdist, two runs).
    """
    cache_dir = Path(cache_dir).resolve()
    python = cache_dir / "bin" / "python"
    stamp = cache_dir / _STAMP
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir.parent / f"{cache_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == _stamp_text() and python.exists():
            return python
        if cache_dir.is_dir() and any(cache_dir.iterdir()):
            if not (cache_dir / "pyvenv.cfg").is_file():
                raise RuntimeError(f"{cache_dir} is a non-empty folder but not a venv")
        started = time.monotonic()
        _say(f"installing {SYNAPSE_SPEC} into {cache_dir} (first time: about a minute)")
        # --clear wipes a half-made or outdated venv; the lock file lives outside it.
        _run([sys.executable, "-m", "venv", "--clear", str(cache_dir)], "creating the venv")
        _run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-c",
                str(LOCK_FILE),
                SYNAPSE_SPEC,
            ],
            f"pip install {SYNAPSE_SPEC}",
        )
        _run([str(python), "-c", "import synapse.app.homeserver"], "importing synapse")
        stamp.write_text(_stamp_text())
        _say(f"installed in {time.monotonic() - started:.0f}s")
        return python


@functools.cache
def skip_reason(cache_dir: Path | None = None) -> str | None:
    """Why Synapse cannot be installed or run here; None when it can (installs it)."""
    if not sys.platform.startswith(("linux", "darwin")):
        return f"the test Synapse needs Linux or macOS, not {sys.platform}"
    try:
        ensure_synapse_venv(cache_dir or default_venv_dir())
    except (OSError, RuntimeError) as exc:
        return f"cannot install Synapse ({SYNAPSE_SPEC}): {exc}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def homeserver_config(workdir: Path, port: int, shared_secret: str) -> dict[str, Any]:
    """The test homeserver's configuration (written as JSON, which is valid YAML)."""
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(workdir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(workdir / "homeserver.db")}},
        "log_config": str(workdir / "log.config"),
        "media_store_path": str(workdir / "media_store"),
        "signing_key_path": str(workdir / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "enable_registration": False,
        "allow_guest_access": False,
        "report_stats": False,
        "enable_metrics": False,
        "federation_domain_whitelist": [],
        "allow_public_rooms_over_federation": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "url_preview_enabled": False,
        "enable_3pid_lookup": False,
        "use_presence": False,
        "user_directory": {"enabled": False},
        "encryption_enabled_by_default_for_room_type": "off",
        "rc_message": _HIGH,
        "rc_registration": _HIGH,
        "rc_login": {"address": _HIGH, "account": _HIGH, "failed_attempts": _HIGH},
        "rc_joins": {"local": _HIGH, "remote": _HIGH},
        "rc_joins_per_room": _HIGH,
        "rc_invites": {"per_room": _HIGH, "per_user": _HIGH, "per_issuer": _HIGH},
        "rc_room_creation": _HIGH,
        "rc_key_requests": _HIGH,
        "rc_3pid_validation": _HIGH,
        "rc_media_create": _HIGH,
        "rc_presence": {"per_user": _HIGH},
        "rc_delayed_event_mgmt": _HIGH,
        "rc_admin_redaction": _HIGH,
        "rc_profile": _HIGH,
        "rc_user_directory": _HIGH,
    }


def _log_config(log_file: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "precise",
                "filename": str(log_file),
                "encoding": "utf8",
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


class Synapse:
    """A Synapse subprocess for the `with` block; `base_url` is its client API."""

    def __init__(
        self, python: Path, workdir: Path | None = None, start_timeout: float = 60.0
    ) -> None:
        self.python = Path(python)
        self.start_timeout = start_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="synapse-"))
        self.port = 0
        self.base_url = ""
        self.shared_secret = secrets.token_urlsafe(32)
        self.config_path = self.workdir / "homeserver.yaml"
        self.log_file = self.workdir / "homeserver.log"
        self.output_file = self.workdir / "stdout.log"
        self.process: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> Synapse:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = homeserver_config(self.workdir, self.port, self.shared_secret)
        self.config_path.write_text(json.dumps(config, indent=2))
        (self.workdir / "log.config").write_text(json.dumps(_log_config(self.log_file)))
        command = [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)]
        _run([*command, "--generate-keys"], "synapse --generate-keys")
        with open(self.output_file, "wb") as output:
            self.process = subprocess.Popen(  # our venv's python, fixed argv
                command,
                cwd=self.workdir,
                env=_clean_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Synapse exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                self.request("GET", "/_matrix/client/versions", timeout=2)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise RuntimeError(
            f"Synapse did not answer within {self.start_timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Synapse's log file and of its stdout/stderr."""
        parts = []
        for path in (self.log_file, self.output_file):
            if path.is_file():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts) or "(no log output)"

    # -- HTTP --------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        timeout: float = 10,
    ) -> Any:
        """A JSON request to the server; raises `urllib.error.HTTPError` on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = self.base_url + path
        if not url.startswith("http://127.0.0.1:"):
            raise ValueError(f"refusing non-local URL {url!r}")
        req = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - checked above
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def register(self, username: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Register a user with the shared secret; return (user_id, access_token)."""
        path = "/_synapse/admin/v1/register"
        nonce = self.request("GET", path)["nonce"]
        role = "admin" if admin else "notadmin"
        message = "\x00".join((nonce, username, password, role)).encode()
        mac = hmac.new(self.shared_secret.encode(), message, hashlib.sha1).hexdigest()
        body = {
            "nonce": nonce,
            "username": username,
            "password": password,
            "admin": admin,
            "mac": mac,
        }
        result = self.request("POST", path, body)
        return str(result["user_id"]), str(result["access_token"])
