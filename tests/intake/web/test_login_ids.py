"""The officer id as typed at the console's login: bounded, answered alike, kept only if real.

Each test runs on SQLite and on PostgreSQL (where a typed id longer than an
audit column used to end in HTTP 500 and no audit entry). What is typed as an
id may be a passphrase typed into the wrong field: unless it is an officer's
id, nothing of it is kept, in the database, its WAL or the log.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from intake.storage import audit
from intake.storage.models import AuditEntry
from intake.triage.logins import FREE_FAILURES, REFUSED
from intake.triage.officers import UNKNOWN_ID
from tests.support import scan
from tests.support.setup import Setup
from tests.support.web import WebWorld, csrf, web_world

# Not ids enrolment could make: too long for any column, wrong shape, not ASCII.
NOT_IDS = ("x" * 93, "ana-officer-" + "0" * 200, "é" * 120, "a" * 5000, "Ana Officer")


@pytest.fixture
def world(setup: Setup) -> WebWorld:
    return web_world(setup)


def _entries(world: WebWorld) -> list[AuditEntry]:
    with world.setup.sessions() as session:
        return list(reversed(audit.list_entries(session, limit=100_000)))


def _attempt(client: TestClient, officer: str, passphrase: str = "a wrong guess") -> httpx.Response:
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "officer": officer, "passphrase": passphrase})


def test_a_typed_id_of_any_length_is_refused_like_a_wrong_passphrase(world: WebWorld) -> None:
    client = world.client()
    wrong = _attempt(client, world.officers["ben"])
    assert wrong.status_code == 401 and REFUSED in wrong.text
    before = len(_entries(world))
    for typed in NOT_IDS:
        answer = _attempt(client, typed)
        assert answer.status_code == 401, typed[:20]
        assert REFUSED in answer.text
    # Each was checked as a login attempt: its passphrase tried on the decoy key, and audited.
    assert world.logins.decoy.opened == len(NOT_IDS)
    refusals = _entries(world)[before:]
    assert [e.action for e in refusals] == ["refused"] * len(NOT_IDS)
    assert {e.detail["attempted"] for e in refusals} == {"web.login.passphrase"}


def test_a_canary_typed_as_the_id_is_nowhere_at_rest(
    world: WebWorld, tmp_path: Path, debug_log: Callable[..., Path]
) -> None:
    setup = world.setup
    log, started = debug_log(setup.settings.log_path), time.time()
    tag = secrets.token_hex(6)
    # Typed as the id: one shaped like an id, a passphrase by mistake, a long paste.
    canaries = [f"canary-{tag}-0000", f"canary passphrase {tag}", f"canary-{tag}-" + "q" * 300]
    client = world.client()
    for typed in canaries:
        assert _attempt(client, typed).status_code == 401
    # The first again until it is locked out, as a real id would be (counted in memory).
    for _ in range(FREE_FAILURES - 1):
        assert _attempt(client, canaries[0]).status_code == 401
    locked = _attempt(client, canaries[0])
    assert locked.status_code == 429 and locked.headers["retry-after"] == "61"
    # And a real id with a wrong passphrase: that id is kept, as the officer's.
    ben = world.officers["ben"]
    assert _attempt(client, ben).status_code == 401

    refusals = [e for e in _entries(world) if e.action in ("refused", "web.locked")]
    assert [e.subject for e in refusals] == [UNKNOWN_ID] * (len(canaries) + 6) + [ben]
    assert log.exists()
    # The home (database, WAL, log) on SQLite; the server's data and WAL on PostgreSQL.
    files = scan.at_rest(setup, started, tmp_path)
    assert scan.leaks([UNKNOWN_ID, f"officer:{ben}"], files) != []  # the scan reads what is kept
    found = scan.leaks([tag], files)
    assert found == [], [(canary, path.name) for canary, path in found]
