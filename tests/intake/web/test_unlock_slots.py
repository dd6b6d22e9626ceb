"""At most `[web] concurrent_unlocks` passphrase checks at once, from every address together.

The per-address allowance (test_login_limit.py) leaves a spray from many
addresses free to start an Argon2id run (64 MiB, a core) per request. The
console's passphrase step takes a slot first; with none free in time it
answers 503 with Retry-After, and nothing was checked: the audit log, which
has an entry for every passphrase the desk looks at, gains none.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from intake.config import load_settings
from intake.storage import audit
from intake.web import WebOptions
from intake.web.console import Console
from intake.web.login_pages import BUSY
from intake.web.server import web_options
from tests.support.setup import Setup
from tests.support.web import csrf, login_passphrase, web_world


def _audited(setup: Setup) -> int:
    with setup.sessions() as session:
        return len(audit.list_entries(session, limit=100_000))


def _sign_in(client: TestClient, officer: str, passphrase: str) -> httpx.Response:
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "officer": officer, "passphrase": passphrase})


def test_a_sign_in_waits_for_a_free_slot_then_is_told_the_console_is_busy(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    world = web_world(setup, WebOptions(concurrent_unlocks=1, unlock_wait_seconds=0.2))
    console: Console = world.app.state.console
    ana = world.officers["ana"]
    with world.client("198.51.100.20") as client:
        assert client.portal is not None
        # Given the only slot taken (another sign-in's Argon2id run, as far as ana can tell),
        client.portal.call(console.unlock_slots.acquire)
        before = _audited(setup)
        # a sign-in is answered "busy, try again", and its passphrase was never checked
        # (a wrong one would have been refused and audited);
        busy = _sign_in(client, ana, "a typo")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert BUSY in busy.text
        assert _sign_in(client, ana, "another typo").status_code == 503
        assert _audited(setup) == before
        # (the console says so in its log once, not once a request)
        told = [r for r in caplog.records if "slot stays busy" in r.getMessage()]
        assert len(told) == 1 and told[0].levelname == "WARNING"
        # once the slot is free, the same attempt is checked (refused and audited),
        client.portal.call(console.unlock_slots.release)
        assert _sign_in(client, ana, "a typo").status_code == 401
        assert _audited(setup) == before + 1
        # and the right passphrase goes through.
        assert login_passphrase(client, ana) == "/login/enrol"


def test_the_slots_come_from_the_settings(tmp_path: Path) -> None:
    default = web_options(load_settings({"HRD_INTAKE_HOME": str(tmp_path)}), "127.0.0.1:8088")
    assert default.concurrent_unlocks == 2
    settings = load_settings(
        {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_WEB_CONCURRENT_UNLOCKS": "4"}
    )
    assert web_options(settings, "127.0.0.1:8088").concurrent_unlocks == 4
