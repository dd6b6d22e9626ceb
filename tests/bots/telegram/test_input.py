"""Abuse and bad input: groups, floods, stickers, positions, edits, files, forged buttons."""

from __future__ import annotations

import time
from collections.abc import Callable

from bots.ratelimit import RateLimiter
from intake.core import app
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.bots.telegram.test_failures import recorded
from tests.support.fake_telegram import FakeTelegram
from tests.support.pdfs import telling_pdf
from tests.support.setup import Setup

UNSUPPORTED = "I cannot read this kind of message"
EDITED = "You edited a message"
MENU = "What would you like to do?"


def test_groups_and_channels_are_refused_and_left(
    primary_setup: Setup, telegram_run: RunTelegram, telegram_fake: FakeTelegram
) -> None:
    tg = telegram_fake
    with telegram_run(primary_setup):
        group = tg.inject_message(-1001, 42, "/start", chat_type="supergroup", username="someone")
        tg.inject_message(-1002, 43, "hi all", chat_type="group")
        tg.wait_for(lambda t: t.confirmed_offset > group + 1)
    for chat in (-1001, -1002):
        (notice,) = tg.sent_messages(chat)
        assert "only talk in private chats" in notice["text"]
        assert "reply_markup" not in notice
    assert {params["chat_id"] for params in tg.calls_to("leaveChat")} == {-1001, -1002}
    assert recorded(primary_setup) == 0  # nothing said in a group reached the core


def test_a_flood_is_dropped_with_one_notice_to_resend(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me, calm = telegram_fake, telegram_defender(3001), telegram_defender(3002)
    with telegram_run(primary_setup, limiter=RateLimiter(burst=10, per_minute=30)):
        # When one defender sends 15 messages at once, and another one message.
        last = [me.say(f"message {n}", wait=False) for n in range(15)][-1]
        calm.say("/start")
        me.settle(last)
    # Then 10 went to the core, the other 5 were dropped with a single notice.
    notices = [t for t in me.texts() if "sending messages very quickly" in t]
    assert len(notices) == 1
    assert "send it again" in notices[0]
    assert recorded(primary_setup) == 10 + 1
    assert any(MENU in t for t in calm.texts())
    assert tg.errors == []


def test_stickers_voice_locations_contacts_and_edits_are_answered(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(3101)
    with telegram_run(setup):
        first = me.say("/start")
        kinds = (
            {"sticker": True},
            {"voice": b"OggS voice"},
            {"location": (-1.28, 36.82)},
            {"contact": "+254700000001"},
        )
        sent = []
        for kind in kinds:
            sent.append(tg.update(me.send(**kind))["message"]["message_id"])
            texts = me.texts()
            assert UNSUPPORTED in texts[-2] and MENU in texts[-1], kind
        own = tg.update(first)["message"]["message_id"]
        me.settle(tg.inject_edited_message(me.chat_id, me.user_id, own, "/help"))
        assert EDITED in me.texts()[-2] and MENU in me.texts()[-1]
        # A position or a phone number does not stay on the device; a sticker may.
        _sticker, _voice, location, contact = sent
        assert {location, contact} == tg.deleted(me.chat_id)
    assert recorded(setup) == 6


def test_files_too_large_are_not_downloaded_and_pdfs_are_taken(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    settings = primary_setup.settings.model_copy(update={"max_attachment_mb": 1})
    service = app.build_service(
        settings, primary_setup.sessions, primary_setup.cipher, clock=primary_setup.clock
    )
    tg, me = telegram_fake, telegram_defender(3201)
    with telegram_run(primary_setup, service=service):
        for say, step in [
            (True, "/start"),
            (False, "threat_report"),
            (False, "yes"),
            (True, "Kenya"),
            (False, "me"),
            (True, "1,2"),
            (False, "ongoing"),
            (True, "Text"),
        ]:
            me.say(step) if say else me.press(step)
        me.send(document=(b"%PDF-1.4 " + b"x" * (1024 * 1024 + 1), "application/pdf", "big.pdf"))
        assert "too large" in me.texts()[-2]
        assert tg.calls_to("getFile") == []
        me.send(document=(telling_pdf(), "image/jpeg", "evidence.jpg"))
        assert len(tg.calls_to("getFile")) == 1
        assert "1" in me.last_text()  # one file received, whatever its name claimed
        me.send(document=(b"MZ\x90\x00 not a picture", "image/png", "photo.png"))
        assert "accept only" in me.texts()[-2]
        # Each file message left the chat once recorded.
        sent_files = [u for u in range(1, 200) if u in tg.deleted(me.chat_id)]
        assert len(sent_files) == 3


def test_forged_and_stale_buttons_are_only_answers_the_engine_checks(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(3301)
    with telegram_run(primary_setup):
        me.say("/start")
        menu = tg.last_sent(me.chat_id)
        me.settle(
            tg.inject_callback(me.chat_id, me.user_id, "x" * 60, menu["message_id"], forged=True)
        )
        assert MENU in me.last_text()  # asked again
        # A pressed keyboard is removed, so it cannot answer a later question.
        me.press("threat_report")
        pressed = tg.last_sent(me.chat_id)
        me.press("yes")
        assert "reply_markup" not in next(
            m for m in tg.sent_messages(me.chat_id) if m["message_id"] == pressed["message_id"]
        )
        answers = tg.callback_answers
        assert answers and all(answer is not None for answer in answers.values())


def test_an_update_the_library_cannot_read_blocks_nobody(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(3401)
    tg.add_chat(me.chat_id, first_name="D")
    # PTB 22.8 refuses this poll (a field it requires is missing): a newer Bot API.
    poll = {
        "id": "p",
        "question": "?",
        "options": [],
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
    }
    user = {"id": me.user_id, "is_bot": False, "first_name": "D"}
    chat = {"id": me.chat_id, "type": "private", "first_name": "D"}
    with telegram_run(primary_setup):
        odd = tg.inject_raw(
            {"message": {"message_id": 1, "date": 1, "chat": chat, "from": user, "poll": poll}}
        )
        me.settle(odd)
        assert any(UNSUPPORTED in t for t in me.texts())
        me.say("/start")  # and the next update goes through
        assert MENU in me.last_text()
    assert recorded(primary_setup) == 2


def test_stopping_is_prompt_and_a_restart_repeats_nothing(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(3501)
    with telegram_run(primary_setup) as running:
        me.say("/start")  # answered: acknowledged by the long poll it is in now
        started = time.monotonic()
        running.stop()
        assert time.monotonic() - started < 3
    sent = len(tg.calls_to("sendMessage"))
    with telegram_run(primary_setup):
        # Updates are handled in order: a message sent after the restart is answered
        # after any update that came again, so once it is answered a repeat would show.
        me.say("/help")
    # Only /help's answer (the commands, then the question again): /start is not re-asked.
    [commands, question] = [call["text"] for call in tg.calls_to("sendMessage")[sent:]]
    assert "/help – show this list" in commands and MENU in question
