"""Canaries: what a defender sent via Telegram, and who they are, appear nowhere at rest."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from tests.bots.conftest import TELEGRAM_TOKEN, RunTelegram, TelegramDefender
from tests.bots.telegram.test_e2e import submitted_reference
from tests.support.fake_telegram import FakeTelegram
from tests.support.scan import at_rest, leaks
from tests.support.setup import Setup


def test_text_ids_username_and_phone_are_nowhere_at_rest(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
    debug_log: Callable[..., Path],
) -> None:
    log, started = debug_log(primary_setup.settings.log_path, "text"), time.time()
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

    assert "batch recorded" in log.read_text()
    found = leaks(canaries.values(), at_rest(primary_setup, started))
    assert found == [], [(next(k for k, v in canaries.items() if v == c), p.name) for c, p in found]
