"""Safety check-ins on Telegram: the real python-telegram-bot stack against the fake Bot API.

The scheduler runs in the test (on the test clock), as `serve` runs it beside
the channel; the prompt reaches the defender through the channel's delivery
worker, with no Telegram code of its own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from intake.triage.queue import open_case
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.bots.telegram.test_deliveries import FAST, OFFICERS_CHAT, wait_until
from tests.support.checkins import (
    DURESS,
    WORD,
    alert_cases,
    cheap,
    checkin_script,
    checkin_service,
    scheduler,
)
from tests.support.deliveries import notifying, pending_deliveries
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup

DUE = "Time to check in: reply with your word."


def start(me: TelegramDefender, destination: str) -> None:
    me.say("/start")
    for action, value in checkin_script(destination=destination):
        if action == "choose":
            me.press(value)
        else:
            me.say(value)
    assert any("Your check-in is set" in text for text in me.texts())


def test_prompt_answer_miss_and_late_check_in_on_telegram(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(73519001)
    destination = f"CANARY-WHERE-{secrets.token_hex(6)}"
    setup = notifying(cheap(setup), telegram_chat=str(OFFICERS_CHAT))
    tg.add_chat(OFFICERS_CHAT, "supergroup")
    with telegram_run(setup, service=checkin_service(setup), deliveries=FAST):
        # Given a defender who started a check-in every 2 hours; their words are deleted from the chat.
        start(me, destination)
        assert tg.deleted(me.chat_id), "the chat holding the words was not wiped"

        # When it is due, the bot asks (content-free) and the word confirms.
        setup.clock.advance(hours=2)
        assert scheduler(setup).run_once().prompted == 1
        tg.wait_for(lambda t: DUE in [m.get("text") for m in t.sent_messages(me.chat_id)], message="the prompt")
        wait_until(lambda: pending_deliveries(setup) == 0, "the prompt to be recorded")
        prompt_id = next(m["message_id"] for m in tg.sent_messages(me.chat_id) if m.get("text") == DUE)
        said = me.say(WORD.title())
        assert "you are checked in" in me.last_text() or any("checked in" in t for t in me.texts())
        # The prompt and the word are deleted from the chat.
        assert prompt_id in tg.deleted(me.chat_id)
        assert tg.update(said)["message"]["message_id"] in tg.deleted(me.chat_id)

        # When the next one goes unanswered past the grace period, officers are told, without content.
        setup.clock.advance(hours=2)
        scheduler(setup).run_once()
        setup.clock.advance(minutes=31)
        assert scheduler(setup).run_once().alerted == 1
        [notice] = tg.wait_for(lambda t: t.sent_messages(OFFICERS_CHAT), message="the notification")
        [case] = alert_cases(setup)
        assert notice["text"] == f"New missed checkin {case.reference} for eu-del-ke, urgency immediate."

        # And a late check-in adds to that case.
        me.say(WORD)
        with setup.sessions() as session:
            opened = open_case(session, setup.cipher, case.reference, setup.recovery)
        assert opened.payload["answers"]["destination"] == destination
        assert [e.text.split(":")[0] for e in opened.events] == ["Missed check-in", "Checked in late"]
        # The bot never wrote the words back (the summary shows the rest to the defender only).
        all_sent = " ".join(str(c.get("text", "")) for c in tg.calls_to("sendMessage")).lower()
        assert WORD not in all_sent and DURESS not in all_sent
