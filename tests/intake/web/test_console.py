"""The officers' web console over HTTP (Starlette's test client): login, pages, actions, security.

The browser tests (tests/intake/web/test_browser.py) drive the same app in Chromium.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from intake.runtime.logs import setup_logging
from intake.storage import audit
from intake.web.security import CSP
from tests.support import scan
from tests.support.defender import assistance_request, threat_report
from tests.support.keys import submit
from tests.support.setup import Setup
from tests.support.web import (
    WebWorld,
    csrf,
    enrol_totp,
    login_passphrase,
    login_totp,
    web_world,
)


@pytest.fixture
def world(setup: Setup) -> WebWorld:
    return web_world(setup)


def _actions(world: WebWorld, name: str) -> list[str]:
    with world.setup.sessions() as session:
        entries = audit.list_entries(session, limit=500, subject=world.officers[name])
    return [e.action for e in reversed(entries)]


def test_enrol_log_in_read_act_and_log_out(world: WebWorld) -> None:
    _, kenya = submit(world.setup, threat_report("Kenya", details="CANARY-WEB-DETAIL"))
    client = world.client()
    enrol_totp(world, client, "ana")

    queue = client.get("/queue")
    assert queue.status_code == 200 and kenya in queue.text
    page = client.get(f"/cases/{kenya}")
    assert page.status_code == 200
    # Labels in the officer's language, country names, the whole story.
    assert "Person at risk" in page.text and "Kenya" in page.text
    assert "CANARY-WEB-DETAIL" in page.text and "submitted by the defender" in page.text
    token = csrf(page.text)
    for action, data in (
        ("ack", {}),
        ("claim", {}),
        ("note", {"text": "CANARY-WEB-NOTE"}),
        ("reply", {"text": "CANARY-WEB-REPLY"}),
        ("assign", {"to": world.officers["ben"]}),
        ("unclaim", {}),
    ):
        answer = client.post(f"/cases/{kenya}/{action}", data={"csrf": token, **data})
        assert answer.status_code == 303, (action, answer.text)
    page = client.get(f"/cases/{kenya}").text
    assert "awaiting_defender" in page  # a reply waits for the defender
    for what in ("acknowledged", "claimed", "CANARY-WEB-NOTE", "CANARY-WEB-REPLY", "assigned to", "unclaimed"):
        assert what in page, what
    refused = client.post(f"/cases/{kenya}/close", data={"csrf": token, "reason": ""})
    assert "reason is required" in client.get(refused.headers["location"]).text
    moved = client.post(
        f"/cases/{kenya}/transfer",
        data={"csrf": token, "to": "eu-del-ua", "reason": "CANARY-WEB-REASON"},
    )
    assert moved.headers["location"] == "/queue"
    assert client.get(f"/cases/{kenya}").status_code == 404  # no longer ours
    out = client.post("/logout", data={"csrf": token})
    assert out.headers["location"] == "/login"
    assert client.get("/queue").headers["location"] == "/login"
    actions = _actions(world, "ana")
    assert "web.enrol_code" in actions and "web.factor_added" in actions
    assert "web.login" in actions and "web.logout" in actions


def test_queue_filters_answered_and_statistics(world: WebWorld) -> None:
    _, one = submit(world.setup, threat_report("Kenya"), sender="d1")
    _, two = submit(world.setup, threat_report("Kenya"), sender="d2")
    client = world.client()
    enrol_totp(world, client, "ana")
    token = csrf(client.get("/queue").text)
    client.post(f"/cases/{one}/claim", data={"csrf": token})
    mine = client.get("/queue", params={"mine": "1"}).text
    assert one in mine and two not in mine
    assert two in client.get("/queue", params={"q": two[:8]}).text
    assert one not in client.get("/queue", params={"kind": "assistance_request"}).text
    assert one in client.get("/queue", params={"country": "ke"}).text
    stats = client.get("/stats").text
    assert "&lt;5" in stats and "Kenya" in stats


def test_second_login_with_totp_and_code_reuse(world: WebWorld) -> None:
    enrol_totp(world, world.client(), "ana")
    client = world.client()
    login_totp(world, client, "ana")
    assert client.get("/queue").status_code == 200
    # The same code a second time is refused (replay).
    again = world.client()
    assert login_passphrase(again, world.officers["ana"]) == "/login/factor"
    page = again.get("/login/factor").text
    refused = again.post("/login/factor", data={"csrf": csrf(page), "code": world.code("ana")})
    assert refused.status_code == 401


def test_another_missions_case_is_404(world: WebWorld) -> None:
    _, ukraine = submit(world.setup, assistance_request("Ukraine"))
    client = world.client()
    enrol_totp(world, client, "ana")
    assert client.get(f"/cases/{ukraine}").status_code == 404
    assert client.get("/cases/HRD-0000-0000").status_code == 404
    token = csrf(client.get("/queue").text)
    assert client.post(f"/cases/{ukraine}/claim", data={"csrf": token}).status_code == 404
    assert ukraine not in client.get("/queue").text
    assert "refused" in _actions_of_case(world, ukraine)


def _actions_of_case(world: WebWorld, reference: str) -> list[str]:
    with world.setup.sessions() as session:
        return [e.action for e in audit.list_entries(session, subject=reference)]


def test_post_without_csrf_token_is_403(world: WebWorld) -> None:
    _, kenya = submit(world.setup, threat_report("Kenya"))
    client = world.client()
    # Even the login form needs its token.
    client.get("/login")
    refused = client.post("/login", data={"officer": world.officers["ana"], "passphrase": "x"})
    assert refused.status_code == 403
    enrol_totp(world, client, "ana")
    assert client.post(f"/cases/{kenya}/claim", data={}).status_code == 403
    assert client.post(f"/cases/{kenya}/claim", data={"csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert "claim" not in _actions_of_case(world, kenya)


def test_idle_and_absolute_expiry(world: WebWorld) -> None:
    client = world.client()
    enrol_totp(world, client, "ana")
    world.setup.clock.advance(minutes=14)
    assert client.get("/queue").status_code == 200  # still active: the idle clock restarts
    world.setup.clock.advance(minutes=15)
    assert client.get("/queue").headers["location"] == "/login"
    assert "web.logout" in _actions(world, "ana")

    client = world.client()
    login_totp(world, client, "ana")
    for _ in range(8 * 4 + 2):  # busy all day, a request every 15 minutes minus one second
        world.setup.clock.advance(minutes=14, seconds=59)
        response = client.get("/queue")
        if response.status_code != 200:
            break
    assert response.headers["location"] == "/login"
    assert len(world.store) <= 2  # the ended sessions and their keys are gone


def test_lockout_with_backoff_is_audited(world: WebWorld) -> None:
    enrol_totp(world, world.client(), "ana")
    client = world.client()
    for _ in range(4):
        assert login_passphrase(client, world.officers["ana"], b"wrong") == "401"
    assert login_passphrase(client, world.officers["ana"], b"wrong") == "401"  # 5th: locks
    token = csrf(client.get("/login").text)
    locked = client.post(
        "/login",
        data={"csrf": token, "officer": world.officers["ana"], "passphrase": "correct horse battery staple"},
    )
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) <= 61
    world.setup.clock.advance(minutes=1, seconds=1)
    assert login_passphrase(client, world.officers["ana"], b"wrong") == "401"  # 6th: 2 minutes
    world.setup.clock.advance(minutes=1)
    assert login_passphrase(client, world.officers["ana"]) == "429"
    world.setup.clock.advance(minutes=1, seconds=1)
    login_totp(world, client, "ana")
    actions = _actions(world, "ana")
    assert actions.count("web.locked") == 2 and actions.count("refused") >= 7


def test_security_headers(world: WebWorld) -> None:
    _, kenya = submit(world.setup, threat_report("Kenya"))
    client = world.client()
    login = client.get("/login")
    assert login.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "unsafe-inline" not in CSP
    assert login.headers["referrer-policy"] == "no-referrer"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    enrol_totp(world, client, "ana")
    page = client.get(f"/cases/{kenya}")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text)  # no inline script
    assert " style=" not in page.text  # no inline style
    assert client.get("/static/console.css").status_code == 200


def test_secure_cookie_behind_tls(setup: Setup) -> None:
    from intake.web import WebOptions

    world = web_world(setup, WebOptions(secure_cookies=True, origin="https://localhost"))
    cookie = world.client().get("/login").headers["set-cookie"]
    assert cookie.startswith("__Host-hrd_session=") and "secure" in cookie.lower()


def test_attachment_is_downloaded_not_shown(world: WebWorld) -> None:
    from intake.messages import Attachment
    from tests.support.defender import Defender, play
    from tests.support.keys import service

    defender = Defender(service(world.setup, world.setup.cipher), sender="files")
    defender.send("/start")
    script = threat_report("Kenya")
    evidence = script.index(("choose", "skip"))
    play(defender, script[:evidence])
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(image, format="JPEG")
    defender.send(attachment=Attachment(image.getvalue(), "image/jpeg", "photo.jpg"))
    play(defender, [("choose", "done"), *script[evidence + 1 :]])
    reference = defender.reference()
    client = world.client()
    enrol_totp(world, client, "ana")
    page = client.get(f"/cases/{reference}").text
    assert "may be hostile" in page
    link = re.search(rf'href="(/cases/{reference}/files/[^"]+)"', page)
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.content.startswith(b"\xff\xd8")
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"] == "application/octet-stream"
    assert "case.attachment" in _actions_of_case(world, reference)


def test_no_case_content_in_server_logs(world: WebWorld) -> None:
    settings = world.setup.settings
    setup_logging(settings.log_path, "json", "DEBUG")
    _, kenya = submit(world.setup, threat_report("Kenya", details="CANARY-LOG-DETAIL"))
    client = world.client()
    enrol_totp(world, client, "ana")
    token = csrf(client.get(f"/cases/{kenya}").text)
    client.post(f"/cases/{kenya}/note", data={"csrf": token, "text": "CANARY-LOG-NOTE"})
    client.post(f"/cases/{kenya}/reply", data={"csrf": token, "text": "CANARY-LOG-REPLY"})
    client.post(f"/cases/{kenya}/ack", data={"csrf": token})
    client.post(f"/cases/{kenya}/close", data={"csrf": token, "reason": "CANARY-LOG-REASON"})
    client.get(f"/cases/{kenya}")
    canaries = ["CANARY-LOG-DETAIL", "CANARY-LOG-NOTE", "CANARY-LOG-REPLY", "CANARY-LOG-REASON", world.totp["ana"]]
    assert settings.log_path.exists()
    files = scan.files_under(settings.home)
    assert scan.leaks(canaries, files) == []


def test_timedelta_defaults() -> None:
    from intake.web.sessions import SessionStore

    store = SessionStore(lambda: None)  # type: ignore[arg-type, return-value]
    assert store.idle == timedelta(minutes=15) and store.absolute == timedelta(hours=8)
