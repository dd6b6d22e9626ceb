"""Buttons bound to their question, and replies through the sealed return address, on Telegram.

The real python-telegram-bot stack against the fake Bot API server, on both databases.
"""

from __future__ import annotations

from collections.abc import Callable

from intake.triage.queue import open_case
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.bots.telegram.test_deliveries import FAST, file_threat_report, wait_until
from tests.bots.telegram.test_e2e import submitted_reference
from tests.support.deliveries import officer_replies, pending_deliveries
from tests.support.fake_telegram import FakeTelegram
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSED = "That question has passed"


def test_an_old_yes_button_does_not_answer_a_later_yes_no_question(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(4404)
    with telegram_run(setup):
        me.say("/start")
        me.press("threat_report")
        # Given the consent question answered by typing: its "Yes" button stays in the chat.
        consent = tg.last_sent(me.chat_id)
        [old_yes] = [d for d in tg.button_data(consent) if d.endswith("|yes")]
        yes_label = consent["reply_markup"]["inline_keyboard"][0][0]["text"]
        me.say(yes_label)
        me.say("Kenya")
        me.press("me")
        me.say("1, 2")
        me.press("ongoing")
        me.say("They followed me home.")
        me.press("skip")
        me.press("immediate")
        me.say("Signal, evenings")
        me.press("confidential")
        # At the question whether the UN may be told, the old "Yes" is pressed.
        asked = tg.last_sent(me.chat_id)
        assert any(d.endswith("|yes") for d in tg.button_data(asked))
        me.settle(tg.inject_callback(me.chat_id, me.user_id, old_yes, consent["message_id"]))
        # Then it is told the question has passed, and the same question is asked again.
        assert PASSED in "\n".join(me.texts()[-2:])
        assert me.last_text() == asked["text"]
        # A forged press without a tag changes nothing either.
        me.settle(
            tg.inject_callback(me.chat_id, me.user_id, "yes", asked["message_id"], forged=True)
        )
        assert me.last_text() == asked["text"]
        me.press("no")
        me.press("confirm")
        reference, _ = submitted_reference(me)
    with setup.sessions() as session:
        answers = open_case(session, setup.cipher, reference, setup.recovery).payload["answers"]
    assert answers["share_un"] == "no"
    assert tg.errors == []


def test_a_reply_reaches_the_defender_after_they_deleted_the_chat(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(4405)
    officer_id, keys = enrol(setup, "eu-del-ke", "Officer")
    with telegram_run(setup, deliveries=FAST):
        reference = file_threat_report(me, "CANARY-RETURN-DETAIL", "Signal")
        # The defender wipes the chat: the conversation record is destroyed.
        me.say("/delete")
        me.say("/status")
        assert reference not in me.last_text()
        before = len(tg.sent_messages(me.chat_id))
        # The officer's reply finds them through the return address sealed in the case.
        officer_replies(setup, officer_id, keys, reference, "CANARY-RETURN-REPLY Are you safe?")
        tg.wait_for(
            lambda t: len(t.sent_messages(me.chat_id)) > before, message="the officer's reply"
        )
        assert "CANARY-RETURN-REPLY" in tg.last_sent(me.chat_id)["text"]
        wait_until(lambda: pending_deliveries(setup) == 0, "the delivery to be recorded")
        # Their answer reaches the officer.
        me.say("Yes, safe.")
        assert "passed on" in me.last_text() or any("passed on" in t for t in me.texts()[-2:])
    with setup.sessions() as session:
        events = open_case(session, setup.cipher, reference, keys).events
    assert [(e.kind, e.text) for e in events][-1] == ("defender", "Yes, safe.")
    assert tg.errors == []
