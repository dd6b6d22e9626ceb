"""`hrd-intake serve` in a subprocess, and its HTTP endpoints on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "intake"]


def free_port() -> int:
    """A port free now on 127.0.0.1 (another process could take it first: rare, and loud)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET http://127.0.0.1:port/path -> (status, body); (0, reason) if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode("utf-8")
    except OSError as error:
        return 0, str(error)


def readiness(port: int) -> dict[str, Any]:
    status, body = get(port, "/readyz")
    return json.loads(body) if status in (200, 503) else {"ready": False, "down": body}


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


class Serve:
    """One `hrd-intake serve` process with its own HTTP port; stderr goes to a file."""

    def __init__(self, env: dict[str, str], log: Path, stdin: int | None = subprocess.DEVNULL):
        self.port = free_port()
        self.log = log
        with log.open("ab") as err:
            self.process = subprocess.Popen(
                [*CLI, "serve"],
                env=os.environ | env | {"HRD_INTAKE_HTTP_ADDR": f"127.0.0.1:{self.port}"},
                stdin=stdin,
                stdout=subprocess.PIPE if stdin == subprocess.PIPE else subprocess.DEVNULL,
                stderr=err,
            )

    def channel(self, name: str) -> dict[str, Any]:
        return dict(readiness(self.port).get("channels", {}).get(name, {}))

    def wait_channel(self, name: str, state: str, timeout: float) -> None:
        wait_until(
            lambda: self.process.poll() is None and self.channel(name).get("state") == state,
            timeout,
            f"{name} {state} (exit code {self.process.poll()}): {self.log.read_text()[-2000:]}",
        )

    def terminate(self, timeout: float = 20.0) -> int:
        self.process.terminate()
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
