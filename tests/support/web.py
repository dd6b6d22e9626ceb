"""The officers' web console for a test: a real app on a real setup, and logging in to it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyotp
from starlette.applications import Starlette
from starlette.testclient import TestClient

from intake.core.desks import build_desk, build_login_throttle, build_logins
from intake.triage.logins import LoginDesk
from intake.triage.throttle import SignInThrottle
from intake.web import SessionStore, WebOptions, build_app
from tests.conftest import CHEAP_KDF
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_SECRET = re.compile(r'<code id="totp-secret" dir="ltr">([A-Z2-7]+)</code>')


@dataclass
class WebWorld:
    setup: Setup
    app: Starlette
    store: SessionStore
    logins: LoginDesk
    throttle: SignInThrottle
    officers: dict[str, str] = field(default_factory=dict)
    totp: dict[str, str] = field(default_factory=dict)

    def client(self, peer: str = "testclient", **headers: str) -> TestClient:
        """A browser connecting from `peer` (its address), sending `headers` with each request."""
        return TestClient(
            self.app,
            base_url="http://localhost",
            follow_redirects=False,
            client=(peer, 50000),
            headers=headers,
        )

    def code(self, officer: str) -> str:
        """The TOTP code of `officer`'s authenticator app at the setup's clock."""
        return pyotp.TOTP(self.totp[officer]).at(self.setup.clock())

    def next_code(self, officer: str) -> str:
        """Move the clock a step on and give that step's code (a code is good once)."""
        self.setup.clock.advance(seconds=30)
        return self.code(officer)


def web_world(setup: Setup, options: WebOptions | None = None) -> WebWorld:
    """The console on `setup`, with officers ana and ben (eu-del-ke) and ivan (eu-del-ua)."""
    officers = {}
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana Officer", PASSPHRASE)
    officers["ana"] = ana
    officers["ben"] = enrol(setup, "eu-del-ke", "Ben Officer", PASSPHRASE, unlock=ana_keys)[0]
    officers["ivan"] = enrol(setup, "eu-del-ua", "Ivan Officer", PASSPHRASE)[0]
    desk = build_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    # The decoy of logins without an officer costs what the officers' keys cost: cheap here.
    logins = build_logins(setup.settings, setup.sessions, setup.cipher, setup.clock, CHEAP_KDF)
    throttle = build_login_throttle(setup.settings, setup.sessions, setup.clock)
    store = SessionStore(setup.clock, on_end=logins.logged_out)
    app = build_app(desk, logins, throttle, store, options or WebOptions(), setup.clock)
    return WebWorld(setup, app, store, logins, throttle, officers)


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login_passphrase(client: TestClient, officer_id: str, passphrase: bytes = PASSPHRASE) -> str:
    """Post the first step; returns where it sends the browser next."""
    token = csrf(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"csrf": token, "officer": officer_id, "passphrase": passphrase.decode()},
    )
    return answer.headers.get("location", str(answer.status_code))


def enrol_totp(world: WebWorld, client: TestClient, name: str) -> None:
    """First login of `name`: passphrase, enrolment code, TOTP secret and code."""
    code = world.logins.new_enrolment_code(world.officers[name])
    assert login_passphrase(client, world.officers[name]) == "/login/enrol"
    page = client.get("/login/enrol").text
    assert client.post(
        "/login/enrol", data={"csrf": csrf(page), "enrolment_code": code}
    ).headers["location"] == "/login/enrol"
    page = client.get("/login/enrol").text
    found = _SECRET.search(page)
    assert found, "no TOTP secret offered"
    world.totp[name] = found.group(1)
    done = client.post("/login/enrol", data={"csrf": csrf(page), "code": world.code(name)})
    assert done.headers["location"] == "/queue", done.text


def login_totp(world: WebWorld, client: TestClient, name: str) -> None:
    assert login_passphrase(client, world.officers[name]) == "/login/factor"
    page = client.get("/login/factor").text
    done = client.post("/login/factor", data={"csrf": csrf(page), "code": world.next_code(name)})
    assert done.headers["location"] == "/queue", done.text
