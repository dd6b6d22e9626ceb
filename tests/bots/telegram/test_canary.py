"""Canaries: what a defender sent via Telegram, and who they are, appear nowhere at rest."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from intake.runtime.logs import setup_logging
from tests.bots.conftest import TELEGRAM_TOKEN, RunTelegram, TelegramDefender
from tests.bots.telegram.test_e2e import submitted_reference
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup


@pytest.fixture
def telegram_debug_log(primary_setup: Setup) -> Iterator[Path]:
    """Log everything, DEBUG included, to the setup's log file, as `serve` would."""
    path = primary_setup.settings.log_path
    setup_logging(path, "text", "DEBUG", stderr_level="CRITICAL")
    try:
        yield path
    finally:
        root = logging.getLogger()
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()


def test_text_ids_username_and_phone_are_nowhere_at_rest(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
    telegram_debug_log: Path,
) -> None:
    tag = secrets.token_hex(6)
    canaries = {
        "text": f"canary-text-{tag}",
        "contact": f"canary-contact-{tag}",
        "user id": "8675309421",
        "username": f"canary_user_{tag}",
        "phone": "+254799123456",
        "token": TELEGRAM_TOKEN,
    }
    me = telegram_defender(int(canaries["user id"]), canaries["username"])
    with telegram_run(primary_setup):
        me.say("/start")
        me.press("threat_report")
        me.press("yes")
        me.say("Kenya")
        me.send(contact=canaries["phone"])  # shared by mistake: never read
        me.press("me")
        me.say("1, 2")
        me.press("ongoing")
        me.say(f"They wrote {canaries['text']} on my door.")
        me.press("skip")
        me.press("immediate")
        me.say(canaries["contact"])
        me.press("confidential")
        me.press("no")
        me.press("confirm")
        submitted_reference(me)

    home = primary_setup.settings.home
    files = [home / "intake.storage.engine", home / "intake.storage.engine-wal", telegram_debug_log]
    assert telegram_debug_log.stat().st_size > 0
    assert "batch recorded" in telegram_debug_log.read_text()
    for path in files:
        if not path.exists():
            continue
        data = path.read_bytes()
        for what, canary in canaries.items():
            assert canary.encode() not in data, f"{what} found in {path.name}"
            assert canary.encode("utf-16-le") not in data, f"{what} (UTF-16) in {path.name}"
