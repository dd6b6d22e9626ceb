"""Deliveries on Telegram: officers' replies reach defenders, notifications reach officers.

The real python-telegram-bot stack against the fake Bot API server; the
officer acts in-process (`triage.reply`, as `hrd-intake queue reply` does).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot

from bots.deliveries import DeliveryTiming, DeliveryWorker
from bots.telegram.deliveries import TelegramSender
from bots.telegram.render import Renderer
from bots.telegram.retry import Backoff
from intake.core.service import ConversationService
from intake.storage.deliveries import queue_delivery
from intake.storage.models import Delivery
from intake.triage.queue import open_case
from tests.bots.conftest import TELEGRAM_TOKEN, RunTelegram, TelegramDefender
from tests.bots.telegram.test_e2e import submitted_reference
from tests.support.defender import threat_report
from tests.support.deliveries import notifying, officer_replies, pending_deliveries
from tests.support.fake_telegram import FakeTelegram
from tests.support.officers import enrol
from tests.support.setup import Setup

OFFICERS_CHAT = -1009988776655
FAST = DeliveryTiming(interval=0.1, base_backoff=0.01, max_backoff=0.05)


def file_threat_report(me: TelegramDefender, details: str, contact: str) -> str:
    """The defender files a threat report in Kenya; its reference."""
    me.say("/start")
    for action, value in threat_report("Kenya", details=details):
        if action == "choose":
            me.press(value)
        elif value == "Signal, evenings":
            me.say(contact)
        else:
            me.say(value)
    return submitted_reference(me)[0]


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def test_reply_reaches_the_defender_and_their_answer_the_officer(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tg, me = telegram_fake, telegram_defender(73519442)
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    contact = f"CANARY-CONTACT-{secrets.token_hex(6)}"
    reply = f"CANARY-REPLY-{secrets.token_hex(6)} Are you safe tonight? " + (
        "We are arranging a visit with the lawyer. " * 110
    )
    answer = f"CANARY-ANSWER-{secrets.token_hex(6)} Yes, I am with my sister."
    officer_id, keys = enrol(setup, "eu-del-ke", "Officer")
    setup = notifying(setup, telegram_chat=str(OFFICERS_CHAT))
    tg.add_chat(OFFICERS_CHAT, "supergroup")

    with telegram_run(setup, deliveries=FAST):
        # Given a defender who filed a threat report.
        reference = file_threat_report(me, details, contact)

        # Then the officers' group is told: reference, mission, urgency, and nothing else.
        [notice] = tg.wait_for(lambda t: t.sent_messages(OFFICERS_CHAT), message="the notification")
        assert reference in notice["text"]
        assert "eu-del-ke" in notice["text"] and "immediate" in notice["text"]
        assert details not in notice["text"] and contact not in notice["text"]
        # An officer writing in that group is not a defender: no answer, and the bot stays.
        said = tg.inject_message(OFFICERS_CHAT, 31337, "/start", chat_type="supergroup")
        tg.wait_for(lambda t: t.confirmed_offset > said, message="the group message handled")
        assert tg.calls_to("leaveChat") == []
        assert len(tg.sent_messages(OFFICERS_CHAT)) == 1

        # When the officer replies, at more than one Telegram message's length.
        before = len(me.texts())
        officer_replies(setup, officer_id, keys, reference, reply)

        # Then the defender gets it in the same chat, in pieces, protected, no previews.
        tg.wait_for(lambda t: len(me.texts()) >= before + 2, message="the officer's reply")
        pieces = tg.sent_messages(me.chat_id)[before:]
        assert len(pieces) == 2
        assert reference in pieces[0]["text"] and "CANARY-REPLY" in pieces[0]["text"]
        sends = [c for c in tg.calls_to("sendMessage") if c["chat_id"] == me.chat_id]
        for call in sends[-2:]:
            assert call["protect_content"] is True
            assert call["link_preview_options"] == {"is_disabled": True}
            assert "parse_mode" not in call
        wait_until(lambda: pending_deliveries(setup) == 0, "the deliveries to be recorded")

        # When the defender answers there.
        answered = len(me.texts())
        me.say(answer)
        assert any("passed on" in text for text in me.texts()[answered:])

        # Then the officer sees the reply and the answer on the case.
        with setup.sessions() as session:
            events = open_case(session, setup.cipher, reference, keys).events
        assert [(e.kind, e.text) for e in events] == [("reply", reply), ("defender", answer)]

        # And a wipe of the chat takes the officer's reply with it.
        me.say("/delete")
        assert {p["message_id"] for p in pieces} <= tg.deleted(me.chat_id)

    assert tg.errors == []
    logged = " ".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.startswith(("bots", "intake"))
    )
    for secret in (details, contact, "CANARY-REPLY", "CANARY-ANSWER", str(OFFICERS_CHAT)):
        assert secret not in logged
    assert str(me.chat_id) not in logged


def _queue(setup: Setup, chat: int, text: str) -> None:
    with setup.sessions.begin() as session:
        queue_delivery(
            session,
            setup.cipher,
            channel="telegram",
            kind="reply",
            chat=str(chat),
            text=text,
            conversation_id=None,
            now=setup.clock(),
        )


async def _with_worker(
    fake: FakeTelegram,
    service: ConversationService,
    scenario: Callable[[], Any],
    renderer_attempts: int = 5,
    max_attempts: int = 30,
) -> None:
    """Run a delivery worker against the fake server while `scenario` (blocking) runs."""
    bot = Bot(TELEGRAM_TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url)
    await bot.initialize()
    renderer = Renderer(bot, attempts=renderer_attempts, backoff=Backoff(base=0.01, cap=0.02))
    worker = DeliveryWorker(service, TelegramSender(bot, renderer), FAST, max_attempts)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.to_thread(scenario)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await bot.shutdown()


def test_a_refused_delivery_is_kept_and_given_up_after_its_attempts(
    setup: Setup, telegram_fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    tg, chat, other = telegram_fake, 424242, 434343
    tg.add_chat(chat)
    tg.add_chat(other)
    tg.block(chat)  # the defender blocked the bot
    _queue(setup, chat, "CANARY-BLOCKED reply")

    def sends(to: int = chat) -> int:
        return len([c for c in tg.calls_to("sendMessage") if c["chat_id"] == to])

    def after_a_later_pass(count: int) -> None:
        """Queue a delivery to another chat and wait until it is sent and recorded: the
        worker claimed again after this point, and would have claimed the refused one
        with it if that one could be claimed."""
        _queue(setup, other, "a later reply")
        wait_until(lambda: sends(other) == count, "a later delivery")
        wait_until(lambda: pending_deliveries(setup) == 1, "the later delivery recorded")

    def scenario() -> None:
        # Refused (403): kept, claimed, tried again once the claim lapses.
        wait_until(lambda: sends() == 1, "the first attempt")
        after_a_later_pass(1)
        assert sends() == 1  # not retried while claimed
        setup.clock.advance(minutes=3)
        wait_until(lambda: sends() == 2, "the second attempt")
        # Two attempts were all it had: no more tries, however long we wait.
        setup.clock.advance(minutes=3)
        after_a_later_pass(2)
        assert sends() == 2

    with caplog.at_level(logging.INFO, logger="bots"):
        asyncio.run(_with_worker(tg, setup.service(), scenario, max_attempts=2))

    with setup.sessions() as session:
        [row] = session.scalars(select(Delivery)).all()
    assert row.attempts == 2  # kept, sealed, for the operator to see
    given_up = [r for r in caplog.records if "no longer tried" in r.getMessage()]
    assert len(given_up) == 1 and given_up[0].levelno == logging.ERROR
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "CANARY" not in logged and str(chat) not in logged


def test_an_outage_postpones_a_delivery_and_it_is_sent_once(
    primary_setup: Setup, telegram_fake: FakeTelegram
) -> None:
    setup, tg, chat = primary_setup, telegram_fake, 515151
    tg.add_chat(chat)
    # Telegram answers 502 to more tries than one send makes: the batch stops.
    tg.fail_next("sendMessage", status=502, times=2)
    _queue(setup, chat, "after the outage")

    def scenario() -> None:
        wait_until(lambda: tg.sent_messages(chat), "the delivery after the outage")
        wait_until(lambda: pending_deliveries(setup) == 0, "the delivery to be recorded")

    asyncio.run(_with_worker(tg, setup.service(), scenario, renderer_attempts=2))

    assert [m["text"] for m in tg.sent_messages(chat)] == ["after the outage"]
    names = [name for name, _ in tg.calls]
    first_failure = names.index("sendMessage")
    # The worker probed Telegram before claiming again.
    assert "getMe" in names[first_failure + 2 :]
