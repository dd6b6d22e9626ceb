"""Rendering the core's replies with Bot API calls, each retried within bounds.

`split_text` and `keyboard` are pure; `Renderer` makes the calls. Every call
is retried by `retry.call`; a call that still fails is logged (the
method and the error type only) and given up: the defender's message is
already recorded, and their next message gets the current question again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError

from bots.telegram.retry import Backoff, Sleep, call
from intake.messages import Choice, Reply

log = logging.getLogger("bots.telegram.channel")

T = TypeVar("T")

MAX_TEXT = 4096  # UTF-16 code units, as Telegram counts
MAX_CALLBACK_DATA = 64  # bytes
DELETE_CHUNK = 100  # deleteMessages takes at most 100 ids


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a paragraph, line or word end if any."""
    pieces: list[str] = []
    rest = text
    while _utf16(rest) > limit:
        # The longest prefix that fits (code points never split: surrogates stay paired).
        size, end = 0, 0
        for index, char in enumerate(rest):
            size += 2 if ord(char) > 0xFFFF else 1
            if size > limit:
                end = index
                break
        head = rest[:end]
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = head.rfind(separator)
            if cut > end // 2:
                break
        if cut <= end // 2:
            cut = end
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return [piece for piece in pieces if piece.strip()]


# Between the prompt's tag and the choice in a button's data.
TAG_SEPARATOR = "|"


def callback_data(choice: Choice, position: int, tag: str | None = None) -> str:
    """The button's data: "<tag>|<value>", or the 1-based number for the value when too long.

    The tag binds the button to the question it answers (`Reply.tag`): the
    core refuses a press whose tag is not the current question's. The engine
    accepts a choice by value or by its shown number alike.
    """
    prefix = f"{tag}{TAG_SEPARATOR}" if tag else ""
    room = MAX_CALLBACK_DATA - len(prefix.encode("utf-8"))
    if 0 < len(choice.value.encode("utf-8")) <= room:
        return prefix + choice.value
    return prefix + str(position)


def read_callback_data(data: str) -> tuple[str, str]:
    """(tag, choice) of a button's data; tag "" for data without one (older buttons)."""
    tag, separator, choice = data.partition(TAG_SEPARATOR)
    return (tag, choice) if separator else ("", data)


def keyboard(choices: Sequence[Choice], tag: str | None = None) -> InlineKeyboardMarkup | None:
    """One button per row (labels in any language stay readable)."""
    if not choices:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(choice.label, callback_data=callback_data(choice, number, tag))]
            for number, choice in enumerate(choices, start=1)
        ]
    )


class Renderer:
    """Bot API calls with bounded retries.

    Args:
        bot: an initialised python-telegram-bot `Bot`.
        attempts: tries per call in all.
        backoff: delays between tries.
        sleep: awaits a delay (tests pass a fake).
    """

    def __init__(
        self,
        bot: Bot,
        attempts: int = 5,
        backoff: Backoff | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self._bot = bot
        self._attempts = attempts
        self._backoff = backoff or Backoff(base=0.5, cap=8.0)
        self._sleep = sleep

    async def _call(self, what: str, op: Callable[[], Awaitable[T]], attempts: int = 0) -> T:
        kwargs = {} if self._sleep is None else {"sleep": self._sleep}
        return await call(
            op, what=what, attempts=attempts or self._attempts, backoff=self._backoff, **kwargs
        )

    async def send_text(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int | None:
        """Send one message; its id, or None when it could not be sent."""
        try:
            return await self.send_or_raise(chat_id, text, markup)
        except TelegramError as exc:
            _gave_up("sendMessage", exc)
            return None

    async def send_or_raise(
        self, chat_id: int | str, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> int:
        """Send one message; its id.

        Raises:
            TelegramError: the last failure, once retries ran out or cannot help.
        """
        # Repeating a timed-out send may show the text twice: better than not at all.
        sent = await self._call(
            "sendMessage",
            lambda: self._bot.send_message(
                chat_id,
                text,
                reply_markup=markup,
                # Plain text (no parse mode): what the defender typed is never markup.
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                # No forwarding or saving of the bot's messages from the device.
                protect_content=True,
            ),
        )
        return sent.message_id

    async def send_reply(self, chat_id: int, reply: Reply) -> list[int]:
        """Send a reply (split if long; the keyboard goes with the last piece)."""
        pieces = split_text(reply.text)
        ids: list[int] = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            markup = keyboard(reply.choices, reply.tag) if last else None
            sent = await self.send_text(chat_id, piece, markup)
            if sent is not None:
                ids.append(sent)
        return ids

    async def delete(self, chat_id: int, message_ids: Sequence[int]) -> bool:
        """Delete messages from the chat; False when a network failure left some there.

        Messages Telegram refuses to delete (gone, older than 48 hours) are skipped.
        """
        complete = True
        for start in range(0, len(message_ids), DELETE_CHUNK):
            chunk = list(message_ids[start : start + DELETE_CHUNK])
            try:
                await self._call(
                    "deleteMessages", partial(self._bot.delete_messages, chat_id, chunk)
                )
            except BadRequest:
                # One bad id can fail the whole call: fall back to one at a time.
                for message_id in chunk:
                    complete &= await self.delete_one(chat_id, message_id)
            except Forbidden:
                return True  # the defender blocked the bot: nothing more can be done
            except TelegramError as exc:
                _gave_up("deleteMessages", exc)
                complete = False
        return complete

    async def delete_one(self, chat_id: int, message_id: int) -> bool:
        try:
            await self._call("deleteMessage", lambda: self._bot.delete_message(chat_id, message_id))
        except (BadRequest, Forbidden):
            return True  # gone already, too old, or blocked: nothing to retry
        except TelegramError as exc:
            _gave_up("deleteMessage", exc)
            return False
        return True

    async def answer_callback(self, callback_id: str) -> None:
        """Stop the button's spinner. Two tries: it is cosmetic and expires anyway."""
        try:
            await self._call(
                "answerCallbackQuery",
                lambda: self._bot.answer_callback_query(callback_id),
                attempts=2,
            )
        except TelegramError as exc:
            # "query is too old" after a restart, or a network failure: cosmetic only.
            log.debug("callback not answered (%s)", type(exc).__name__)

    async def drop_keyboard(self, chat_id: int, message_id: int) -> None:
        """Remove the keyboard of a pressed message, so it cannot answer a later question."""
        try:
            await self._call(
                "editMessageReplyMarkup",
                lambda: self._bot.edit_message_reply_markup(chat_id, message_id),
                attempts=2,
            )
        except TelegramError as exc:
            # Already removed or deleted; the engine re-asks on a stale answer anyway.
            log.debug("keyboard not removed (%s)", type(exc).__name__)

    async def download(self, file_id: str) -> bytes | None:
        """A file's bytes; None when Telegram will not serve it (too big for the Bot API, gone).

        Raises:
            TelegramError: a network failure outlasted the retries (the batch is retried).
        """
        # Downloads change nothing on Telegram's side: safe to repeat.
        try:
            file = await self._call("getFile", lambda: self._bot.get_file(file_id))
        except BadRequest:
            return None
        try:
            data = await self._call("file download", file.download_as_bytearray)
        except (BadRequest, InvalidToken):
            return None  # the file URL answered 4xx (PTB reads a 404 as InvalidToken)
        return bytes(data)

    async def leave(self, chat_id: int) -> None:
        try:
            await self._call("leaveChat", lambda: self._bot.leave_chat(chat_id), attempts=3)
        except TelegramError as exc:
            _gave_up("leaveChat", exc)


def _gave_up(what: str, exc: TelegramError) -> None:
    # The error's type only: its description may quote the request.
    log.warning(
        "telegram %s failed for good (%s)", what, type(exc).__name__, extra={"channel": "telegram"}
    )
