"""The officer id as typed at the console's login: bounded, answered alike, kept only if real.

Each test runs on SQLite and on PostgreSQL (where a typed id longer than an
audit column used to end in HTTP 500 and no audit entry).
"""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient

from intake.storage import audit
from intake.storage.models import AuditEntry
from intake.triage.logins import REFUSED
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
