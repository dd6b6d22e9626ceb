"""`serve` runs the officers' web console too when `[web] listen` is set."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.serve import Serve, free_port, get, wait_until
from tests.support.setup import Setup


def test_serve_runs_the_web_console(setup: Setup, tmp_path: Path) -> None:
    web_port = free_port()
    env = {**setup.env, "HRD_INTAKE_WEB_LISTEN": f"127.0.0.1:{web_port}"}
    serve = Serve(env, tmp_path / "serve.stderr", stdin=subprocess.PIPE)
    try:
        status, body = wait_until(
            lambda: (found := get(web_port, "/login"))[0] and found, 60, "the web console"
        )
        assert status == 200 and 'name="passphrase"' in body
        assert get(serve.port, "/healthz")[0] == 200
    finally:
        assert serve.process.stdin is not None
        serve.process.stdin.close()
        serve.terminate()
