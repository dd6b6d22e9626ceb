"""Self-test: the real python-telegram-bot stack against FakeTelegram."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.support.fake_telegram import FakeTelegram

TOKEN = "123:ABC"
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("English", callback_data="lang:en"),
            InlineKeyboardButton("Español", callback_data="lang:es"),
        ]
    ]
)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TOKEN) as fake:
        yield fake


def run(tg: FakeTelegram, body: Callable[[Bot], Awaitable[Any]], **bot_kwargs: Any) -> Any:
    """Run `body(bot)` on a fresh, initialised PTB Bot pointed at the fake."""

    async def main() -> Any:
        bot = Bot(
            TOKEN,
            base_url=f"{tg.api_root}/bot",
            base_file_url=f"{tg.api_root}/file/bot",
            **bot_kwargs,
        )
        async with bot:
            return await body(bot)

    return asyncio.run(main())


def test_get_me_and_unknown_token(tg: FakeTelegram) -> None:
    me = run(tg, lambda bot: bot.get_me())
    assert (me.id, me.username, me.is_bot) == (123, "hrd_test_bot", True)
    assert tg.calls[0][0] == "getMe"

    async def wrong_token() -> None:
        async with Bot("999:XYZ", base_url=tg.base_url, base_file_url=tg.base_file_url):
            pass

    with pytest.raises(InvalidToken):
        asyncio.run(wrong_token())


def test_updates_are_confirmed_by_offset_and_gone_for_good(tg: FakeTelegram) -> None:
    first = tg.inject_message(42, 42, "/start hello", username="defender")
    second = tg.inject_message(42, 42, "second")
    assert second == first + 1

    async def body(bot: Bot) -> None:
        updates = await bot.get_updates(timeout=0)
        assert [u.update_id for u in updates] == [first, second]
        start = updates[0].message
        assert start.text == "/start hello" and start.from_user.username == "defender"
        assert start.entities[0].type == "bot_command" and start.entities[0].length == 6
        assert [m.message.message_id for m in updates] == [1, 2]
        assert len(await bot.get_updates(timeout=0, limit=1)) == 1
        assert [u.update_id for u in await bot.get_updates(offset=second)] == [second]
        assert await bot.get_updates(offset=second + 1, timeout=0) == ()
        assert await bot.get_updates(timeout=0) == ()  # confirmed updates never come back

    run(tg, body)
    assert tg.confirmed_offset == second + 1
    assert tg.pending_updates() == []
    assert tg.calls_to("getUpdates")[0] == {"timeout": 0}


def test_send_message_records_parsed_keyboard(tg: FakeTelegram) -> None:
    tg.inject_message(42, 42, "hi")
    msg = run(tg, lambda bot: bot.send_message(42, "Choose a language", reply_markup=KEYBOARD))
    assert msg.message_id == 2  # the user's "hi" was 1: one sequence per chat
    assert msg.reply_markup == KEYBOARD
    params = tg.calls_to("sendMessage")[0]
    assert params["chat_id"] == 42
    assert params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "English", "callback_data": "lang:en"},
                {"text": "Español", "callback_data": "lang:es"},
            ]
        ]
    }
    [sent] = tg.sent_messages(42)
    assert sent["text"] == "Choose a language"
    assert tg.button_data(sent) == ["lang:en", "lang:es"]


def test_unknown_or_blocked_chat(tg: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        run(tg, lambda bot: bot.send_message(7, "hello"))
    tg.inject_message(8, 8, "hi")
    tg.block(8)
    with pytest.raises(Forbidden, match="blocked"):
        run(tg, lambda bot: bot.send_message(8, "hello"))


def test_callback_query_round_trip(tg: FakeTelegram) -> None:
    tg.inject_message(42, 42, "hi")
    run(tg, lambda bot: bot.get_updates(offset=-1, timeout=0))
    sent = run(tg, lambda bot: bot.send_message(42, "Choose", reply_markup=KEYBOARD))
    with pytest.raises(ValueError, match="not a button"):
        tg.inject_callback(42, 42, "lang:xx", sent.message_id)
    update_id = tg.press(42, 42, "Español")

    async def body(bot: Bot) -> None:
        [update] = await bot.get_updates(offset=update_id, timeout=0)
        query = update.callback_query
        assert query.data == "lang:es" and query.message.message_id == sent.message_id
        assert await query.answer("ok")
        with pytest.raises(BadRequest, match="Query is too old"):
            await query.answer("twice")
        edited = await bot.edit_message_text("Español it is", 42, sent.message_id)
        assert edited.text == "Español it is" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Español it is", 42, sent.message_id)

    run(tg, body)
    assert tg.callback_answers[tg.update(update_id)["callback_query"]["id"]]["text"] == "ok"
    [now] = tg.sent_messages(42)
    assert now["text"] == "Español it is" and "reply_markup" not in now


def test_photo_and_document_download(tg: FakeTelegram) -> None:
    photo = b"\xff\xd8\xff" + bytes(range(256)) * 8
    tg.inject_message(42, 42, photo=photo, caption="evidence")
    tg.inject_message(42, 42, document=(b"%PDF-1.7 report", "application/pdf", "report.pdf"))

    async def body(bot: Bot) -> tuple[bytes, bytes]:
        pic, doc = (u.message for u in await bot.get_updates(timeout=0))
        assert pic.caption == "evidence" and len(pic.photo) == 2
        assert pic.photo[-1].file_size == len(photo)
        got_photo = await (await bot.get_file(pic.photo[-1].file_id)).download_as_bytearray()
        assert (doc.document.file_name, doc.document.mime_type) == ("report.pdf", "application/pdf")
        got_doc = await (await doc.document.get_file()).download_as_bytearray()
        return bytes(got_photo), bytes(got_doc)

    assert run(tg, body) == (photo, b"%PDF-1.7 report")
    file_id = tg.add_file(b"registered", file_unique_id="u-1")
    f = run(tg, lambda bot: bot.get_file(file_id))
    assert f.file_unique_id == "u-1"
    with pytest.raises(BadRequest, match="Invalid file_id"):
        run(tg, lambda bot: bot.get_file("nope"))


def test_delete_message_is_recorded(tg: FakeTelegram) -> None:
    tg.inject_message(42, 42, "my secret")

    async def body(bot: Bot) -> None:
        sent = await bot.send_message(42, "got it")
        assert await bot.delete_message(42, 1)  # the defender's own message
        assert await bot.delete_messages(42, [sent.message_id, 99])
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(42, sent.message_id)

    run(tg, body)
    assert tg.deleted(42) == {1, 2}
    assert tg.sent_messages(42) == []


def test_429_surfaces_as_retry_after(tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else .retry_after warns (deprecated int)
    tg.inject_message(42, 42, "hi")
    tg.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        run(tg, lambda bot: bot.send_message(42, "hello"))
    assert caught.value.retry_after == timedelta(seconds=1)
    assert run(tg, lambda bot: bot.send_message(42, "hello")).text == "hello"
    assert len(tg.calls_to("sendMessage")) == 2  # failed calls are recorded too


def test_502_surfaces_as_network_error(tg: FakeTelegram) -> None:
    tg.inject_message(42, 42, "hi")
    tg.fail_next("sendMessage", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as caught:
            run(tg, lambda bot: bot.send_message(42, "hello"))
        assert type(caught.value) is NetworkError  # not BadRequest (a NetworkError subclass)
        assert str(caught.value) == "Bad Gateway"
    assert run(tg, lambda bot: bot.send_message(42, "hello")).message_id == 2


def test_delay_makes_ptb_time_out(tg: FakeTelegram) -> None:
    tg.inject_message(42, 42, "hi")
    tg.delay("sendMessage", 1.0)
    with pytest.raises(TimedOut):
        run(tg, lambda bot: bot.send_message(42, "slow"), request=HTTPXRequest(read_timeout=0.2))


def test_long_poll_returns_when_an_update_arrives(tg: FakeTelegram) -> None:
    timer = threading.Timer(0.3, lambda: tg.inject_message(42, 42, "late"))
    timer.start()
    started = time.monotonic()
    updates = run(tg, lambda bot: bot.get_updates(timeout=8))
    assert 0.2 < time.monotonic() - started < 3
    assert [u.message.text for u in updates] == ["late"]


def test_long_poll_returns_promptly_on_shutdown() -> None:
    tg = FakeTelegram(token=TOKEN).start()
    result: list[Any] = []
    poller = threading.Thread(
        target=lambda: result.append(run(tg, lambda bot: bot.get_updates(timeout=8)))
    )
    poller.start()
    tg.wait_for(lambda t: t.calls_to("getUpdates"), timeout=5)
    started = time.monotonic()
    tg.close()
    poller.join(5)
    assert not poller.is_alive() and time.monotonic() - started < 2
    assert result == [()]


def test_other_methods_and_webhooks(tg: FakeTelegram) -> None:
    async def body(bot: Bot) -> None:
        assert await bot.set_my_commands([("start", "Begin")])
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert await bot.set_my_description("Intake bot")
        assert await bot.set_webhook("https://example.org/hook")
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook(drop_pending_updates=True)

    tg.inject_message(42, 42, "dropped")
    run(tg, body)
    assert tg.calls_to("setMyDescription") == [{"description": "Intake bot"}]
    assert tg.pending_updates() == []
    with pytest.raises(AssertionError, match=r"timed out .* waiting for nothing"):
        tg.wait_for(lambda t: False, timeout=0.1, message="nothing")


def test_application_polls_and_replies(tg: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome", reply_markup=KEYBOARD)

    async def main() -> None:
        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=5)
            tg.inject_message(42, 42, "/start")
            await asyncio.to_thread(tg.wait_for, lambda t: t.sent_messages(42))
            await app.updater.stop()
            await app.stop()

    asyncio.run(main())
    assert tg.last_sent(42)["text"] == "Welcome"
    assert tg.pending_updates() == [] and tg.confirmed_offset == 2
    assert [m for m, _ in tg.calls][:2] == ["getMe", "deleteWebhook"]


def test_other_message_kinds_and_uploads(tg: FakeTelegram) -> None:
    tg.inject_message(-100, 42, "in a group", chat_type="group", first_name="Ana")
    tg.inject_message(42, 42, sticker=True)
    tg.inject_message(42, 42, location=(50.45, 30.52))
    tg.inject_message(42, 42, voice=b"OggS voice", contact="+380000000")
    first = tg.inject_message(42, 42, "typo")
    edit = tg.inject_edited_message(42, 42, tg.update(first)["message"]["message_id"], "fixed")
    tg.inject_raw({"update_id": 500, "my_chat_member": None})
    assert tg.inject_message(42, 42, "after raw") == 501

    async def body(bot: Bot) -> None:
        updates = await bot.get_updates(timeout=0)
        group, sticker, location, voice, typo, edited, raw, last = updates
        assert group.effective_chat.type == "group" and group.effective_user.first_name == "Ana"
        assert sticker.message.sticker.width == 512
        assert location.message.location.latitude == 50.45
        assert voice.message.voice.mime_type == "audio/ogg"
        assert voice.message.contact.phone_number == "+380000000"
        assert typo.message.text == "typo"
        assert (edited.update_id, edited.edited_message.text) == (edit, "fixed")
        assert (raw.update_id, last.message.text) == (500, "after raw")
        sent = await bot.send_document(
            42, b"%PDF receipt", filename="receipt.pdf", caption="Your receipt"
        )
        assert sent.document.file_name == "receipt.pdf" and sent.caption == "Your receipt"
        got = await (await sent.document.get_file()).download_as_bytearray()
        assert bytes(got) == b"%PDF receipt"

    run(tg, body)
    upload = tg.calls_to("sendDocument")[0]
    assert upload["chat_id"] == 42 and upload["document"][0] == b"%PDF receipt"
