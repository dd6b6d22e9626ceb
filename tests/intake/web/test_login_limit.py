"""The limit on sign-in attempts per client address, over HTTP (Starlette's test client).

Each test runs on SQLite and on PostgreSQL. What proves that a refused attempt
did no work is the audit log: every attempt the login desk looks at leaves an
entry (a refusal, or the officer's login), so an attempt over the limit that
adds none was never checked, and no passphrase was derived for it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from intake.storage import audit
from intake.storage.models import AuditEntry
from intake.web import WebOptions
from tests.support import scan
from tests.support.setup import Setup
from tests.support.web import (
    PASSPHRASE,
    WebWorld,
    csrf,
    enrol_totp,
    login_passphrase,
    login_totp,
    web_world,
)

ATTACKER = "203.0.113.7"
NEIGHBOUR = "203.0.113.8"
OFFICE = "198.51.100.20"
PROXY = "127.0.0.1"
THROTTLED = "Too many sign-in attempts from this address; try again in 1 minute."


@pytest.fixture
def world(setup: Setup) -> WebWorld:
    return web_world(setup)


def _entries(world: WebWorld) -> list[AuditEntry]:
    with world.setup.sessions() as session:
        return list(reversed(audit.list_entries(session, limit=100_000)))


def _attempt(client: TestClient, officer: str, passphrase: str = "a wrong guess") -> httpx.Response:
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"csrf": token, "officer": officer, "passphrase": passphrase})


def _spend(world: WebWorld, client: TestClient, prefix: str = "made-up") -> int:
    """Spray made-up ids from `client` until refused; returns how many were checked."""
    checked = 0
    while (answer := _attempt(client, f"{prefix}-{checked}")).status_code == 401:
        checked += 1
        assert checked <= world.setup.settings.web.login_attempts
    assert answer.status_code == 429
    return checked


def _passphrase_checks(entries: list[AuditEntry]) -> int:
    return sum(e.detail.get("attempted") == "web.login.passphrase" for e in entries)


def test_a_spray_from_one_address_stops_at_the_limit(world: WebWorld) -> None:
    limit = world.setup.settings.web.login_attempts
    refill = world.setup.settings.web.login_refill_seconds
    ben = world.officers["ben"]
    attacker = world.client(ATTACKER)
    # Given a spray over made-up ids and, twice, a real one (an Argon2id run each).
    for n in range(limit - 2):
        assert _attempt(attacker, f"made-up-{n}").status_code == 401
    for _ in range(2):
        assert _attempt(attacker, ben).status_code == 401
    before = _entries(world)
    assert _passphrase_checks(before) == limit

    # When it goes on, even with Ben's real passphrase.
    for guess in ("a wrong guess", PASSPHRASE.decode()) * 3:
        answer = _attempt(attacker, ben, guess)
        assert answer.status_code == 429
        assert answer.headers["retry-after"] == str(refill)
        assert THROTTLED in answer.text and "location" not in answer.headers

    # Then nothing was checked: one entry for the whole episode, naming the address only.
    after = _entries(world)[len(before) :]
    assert [(e.actor, e.action, e.subject) for e in after] == [
        ("service", "web.throttled", ATTACKER)
    ]
    assert after[0].detail == {"attempts": limit, "refill_seconds": refill, "retry_after": refill}
    # Ben's id counts the two failures that were checked, not the six refused.
    with world.setup.sessions() as session:
        bens = audit.list_entries(session, subject=ben)
    assert sum(e.action == "refused" for e in bens) == 2

    # Another address is not affected.
    assert _attempt(world.client(NEIGHBOUR), "made-up-x").status_code == 401

    # After one refill period one attempt is checked again, and the next is refused.
    world.setup.clock.advance(seconds=refill)
    assert _attempt(attacker, "made-up-y").status_code == 401
    refused = _attempt(attacker, "made-up-z")
    assert refused.status_code == 429 and refused.headers["retry-after"] == str(refill)
    # After a full refill the whole allowance is back.
    world.setup.clock.advance(seconds=refill * limit)
    assert _spend(world, attacker, "later") == limit
    throttled = [e for e in _entries(world) if e.action == "web.throttled"]
    assert [e.subject for e in throttled] == [ATTACKER] * 3  # one per episode


def test_an_officer_at_another_address_still_logs_in(world: WebWorld) -> None:
    ana = world.officers["ana"]
    enrol_totp(world, world.client(OFFICE), "ana")
    attacker = world.client(ATTACKER)
    # Given an attacker who tried Ana's id twice and then ran out of attempts.
    assert _attempt(attacker, ana).status_code == 401
    assert _attempt(attacker, ana).status_code == 401
    _spend(world, attacker)
    assert _attempt(attacker, ana, PASSPHRASE.decode()).status_code == 429
    # Then Ana, at the office, logs in.
    client = world.client(OFFICE)
    login_totp(world, client, "ana")
    assert client.get("/queue").status_code == 200


def test_the_second_factor_counts_and_keeps_the_pending_login(world: WebWorld) -> None:
    ana = world.officers["ana"]
    enrol_totp(world, world.client(OFFICE), "ana")
    client = world.client(OFFICE)
    assert login_passphrase(client, ana) == "/login/factor"
    token = csrf(client.get("/login/factor").text)
    # Given a colleague's typos (or anyone at the office) used up the address's allowance.
    _spend(world, world.client(OFFICE))
    before = _entries(world)

    # When Ana sends her code, or her security key's answer, they are not checked.
    refused = client.post("/login/factor", data={"csrf": token, "code": world.code("ana")})
    assert refused.status_code == 429 and THROTTLED in refused.text
    assert 'href="/login/factor"' in refused.text
    assertion = client.post("/login/webauthn/login/verify", content=b"{}")
    assert assertion.status_code == 429 and assertion.json() == {"error": THROTTLED}
    assert assertion.headers["retry-after"] == str(world.setup.settings.web.login_refill_seconds)
    assert _entries(world)[len(before) :] == []  # the episode was recorded by the spray

    # Then, one refill later, her passphrase step still holds: the next code logs her in.
    done = client.post("/login/factor", data={"csrf": token, "code": world.next_code("ana")})
    assert done.headers["location"] == "/queue"


def test_behind_a_trusted_proxy_the_forwarded_client_counts(setup: Setup) -> None:
    world = web_world(setup, WebOptions(trusted_proxies=(ip_network(PROXY),)))
    # The proxy appends the peer it saw; what the client wrote to the left proves nothing.
    attacker = world.client(PROXY, **{"X-Forwarded-For": f"{OFFICE}, {ATTACKER}"})
    _spend(world, attacker)
    # A client reaching the console around the proxy cannot pose as the office either.
    direct = world.client(NEIGHBOUR, **{"X-Forwarded-For": OFFICE})
    _spend(world, direct)
    throttled = [e.subject for e in _entries(world) if e.action == "web.throttled"]
    assert throttled == [ATTACKER, NEIGHBOUR]
    # Ana, through the proxy from the office, has the office's whole allowance.
    office = world.client(PROXY, **{"X-Forwarded-For": OFFICE})
    enrol_totp(world, office, "ana")
    assert office.get("/queue").status_code == 200


def test_without_trusted_proxies_the_header_is_ignored(
    world: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="intake.web.console")
    one = world.client(PROXY, **{"X-Forwarded-For": ATTACKER})
    two = world.client(PROXY, **{"X-Forwarded-For": OFFICE})
    checked = _spend(world, one)
    assert checked == world.setup.settings.web.login_attempts
    # Both come from the proxy's address: they share one allowance.
    assert _attempt(two, "made-up").status_code == 429
    throttled = [e.subject for e in _entries(world) if e.action == "web.throttled"]
    assert throttled == [PROXY]
    told = [r for r in caplog.records if "trusted_proxies is empty" in r.getMessage()]
    assert len(told) == 1  # once per process, not per request


def test_nothing_typed_over_the_limit_is_kept(
    primary_setup: Setup, debug_log: Callable[..., Path]
) -> None:
    # The embedded setup (its database in the home, as a seized server's would be).
    world = web_world(primary_setup)
    log, started = debug_log(world.setup.settings.log_path), time.time()
    tag = secrets.token_hex(6)
    typed_id = f"canary-officer-{tag}"
    passphrase = f"canary-passphrase-{tag}"
    attacker = world.client(ATTACKER)
    # Given passphrases typed under the limit (never kept), then ids and passphrases over it.
    for n in range(world.setup.settings.web.login_attempts):
        assert _attempt(attacker, f"made-up-{n}", passphrase).status_code == 401
    for officer in (typed_id, world.officers["ben"]):
        assert _attempt(attacker, officer, passphrase).status_code == 429
    factor = attacker.post("/login/factor", data={"csrf": "x", "code": f"9{tag}"})
    assert factor.status_code == 429

    assert "over the limit" in log.read_text()
    files = scan.at_rest(world.setup, started)
    # The scan reads what was kept: the address that ran dry is in the audit log, as ever.
    assert scan.leaks([ATTACKER], files) != []
    found = scan.leaks([typed_id, passphrase, f"9{tag}"], files)
    assert found == [], [(canary, path.name) for canary, path in found]


def test_the_console_takes_its_proxies_and_limit_from_the_settings(tmp_path: Path) -> None:
    from intake.config import load_settings
    from intake.web.server import web_options

    settings = load_settings(
        {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_WEB_TRUSTED_PROXIES": "127.0.0.1,::1"}
    )
    options = web_options(settings, "127.0.0.1:8088")
    assert options.trusted_proxies == (ip_network("127.0.0.1"), ip_network("::1"))
