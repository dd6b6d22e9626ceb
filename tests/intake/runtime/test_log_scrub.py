"""Structured logs at DEBUG carry no content and no identity, and every line is JSON.

A defender files a whole report through `hrd-intake serve` (the Telegram
channel against the fake Bot API server, and the console channel), with
`HRD_INTAKE_LOG_FORMAT=json` and `HRD_INTAKE_LOG_LEVEL=DEBUG`. Canaries
planted in what they type, who they are (user id = private chat id,
username), the contact they leave and the phone number they share by
mistake must appear nowhere in the log file, stderr or `/metrics`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.defender import console_threat_report
from tests.support.fake_telegram import FakeTelegram
from tests.support.serve import Serve, get
from tests.support.setup import Setup

TOKEN = "5151:LOG-SCRUB-TOKEN"


def json_lines(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    parsed = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not JSON in {path.name}: {line[:200]!r}") from exc
        assert isinstance(entry, dict) and {"time", "level", "logger", "message"} <= set(entry)
        parsed.append(entry)
    return parsed


def assert_clean(texts: dict[str, str], canaries: dict[str, str]) -> None:
    for where, text in texts.items():
        for what, canary in canaries.items():
            assert canary not in text, f"{what} found in {where}"
            assert canary.lower() not in text.lower(), f"{what} (any case) found in {where}"


@pytest.mark.slow
def test_serve_with_telegram_logs_json_without_content_or_identities(
    primary_setup: Setup, tmp_path: Path
) -> None:
    setup = primary_setup
    tag = secrets.token_hex(5)
    canaries = {
        "text": f"canary-text-{tag}",
        "contact": f"canary-contact-{tag}",
        "user and chat id": "7788990011",
        "username": f"canary_user_{tag}",
        "phone": "+254711000999",
        "token": TOKEN,
    }
    user = int(canaries["user and chat id"])
    stderr = tmp_path / "serve.stderr"
    env = setup.env | {
        "HRD_INTAKE_LOG_FORMAT": "json",
        "HRD_INTAKE_LOG_LEVEL": "DEBUG",
        "HRD_INTAKE_TELEGRAM_TOKEN": TOKEN,
    }
    with FakeTelegram(token=TOKEN) as tg:
        serve = Serve(env | {"HRD_INTAKE_TELEGRAM_API_URL": tg.api_root}, stderr)
        try:
            serve.wait_channel("telegram", "running", 30)
            said = [
                "/start", "1", "1", "Kenya", None, "1", "1,2", "1",
                f"They painted {canaries['text']} on my door.", "1", "1",
                canaries["contact"], "1", "1", "1",
            ]  # fmt: skip
            for text in said:
                if text is None:  # a phone number shared by mistake: never read
                    uid = tg.inject_message(
                        user, user, username=canaries["username"], contact=canaries["phone"]
                    )
                else:
                    uid = tg.inject_message(user, user, text, username=canaries["username"])
                tg.wait_for(lambda t, u=uid: t.confirmed_offset > u, 20, f"update {uid}")
                time.sleep(0.75)  # the per-sender limit: a burst of 10, then 30 a minute
            texts = [m.get("text", "") for m in tg.sent_messages(user)]
            assert any("HRD-" in text for text in texts), "\n".join(texts)
            _, metrics = get(serve.port, "/metrics")
            assert serve.terminate() == 0, stderr.read_text()
        finally:
            if serve.process.poll() is None:
                serve.kill()

    log = setup.settings.log_path
    entries = json_lines(log)
    json_lines(stderr)
    assert any(e["level"] == "DEBUG" for e in entries), "nothing logged at DEBUG"
    assert any(e["message"] == "message processed" for e in entries)
    texts = {"log file": log.read_text(), "stderr": stderr.read_text(), "/metrics": metrics}
    assert_clean(texts, canaries)


def test_console_logs_json_without_content_or_identities(
    tmp_path: Path, database_env: dict[str, str]
) -> None:
    home = tmp_path / "home"
    tag = secrets.token_hex(5)
    canaries = {
        "text": f"CANARY-TEXT-{tag}",
        "sender and chat": f"CANARY-SENDER-{tag}",
        "contact": f"CANARY-CONTACT-{tag}",
    }
    env = {
        **os.environ,
        "HRD_INTAKE_HOME": str(home),
        "HRD_INTAKE_LOG_FORMAT": "json",
        "HRD_INTAKE_LOG_LEVEL": "DEBUG",
        **database_env,
    }
    cli = [sys.executable, "-m", "intake"]
    subprocess.run([*cli, "init", "--demo"], env=env, check=True, capture_output=True)
    script = console_threat_report(canaries["text"], canaries["contact"])
    chat = subprocess.run(
        [*cli, "chat", "--as", canaries["sender and chat"]],
        env=env,
        input=script,
        text=True,
        capture_output=True,
        check=True,
    )
    assert "HRD-" in chat.stdout
    log = home / "logs" / "hrd-intake.log"
    entries = json_lines(log)
    assert any(e["level"] == "DEBUG" for e in entries) or any(
        e["message"] == "message processed" for e in entries
    )
    for line in chat.stderr.splitlines():
        json.loads(line)
    assert_clean({"log file": log.read_text(), "stderr": chat.stderr}, canaries)
