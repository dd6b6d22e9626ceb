"""Reading Telegram updates: what each one asks of the channel, without any I/O.

`read_update` turns a python-telegram-bot `Update` into an `Incoming` value:
where it goes (the conversation service, a refusal for group chats, nowhere),
who sent it, what it carries (text, a pressed button, a file to download, or
something the core cannot read) and the chat messages to act on. The driver
(`batch`) does the downloads and the calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Literal

from telegram import Bot, CallbackQuery, Message, Update
from telegram.constants import ChatType

from intake.messages import Attachment, Inbound

log = logging.getLogger("bots.telegram.channel")

CHANNEL = "telegram"
# What the channel asks Telegram for; everything else is never delivered.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "channel_post")


class Route(Enum):
    CORE = "core"  # hand to the conversation service
    GROUP = "group"  # a group, supergroup or channel: refuse and leave
    IGNORE = "ignore"  # nothing to answer (a bot, a game button...)


@dataclass(frozen=True)
class FileRef:
    """A file to download before the update goes to the core."""

    file_id: str = field(repr=False)
    size: int | None
    media_type: str
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Incoming:
    """One update, read.

    Ids and content are sensitive: they never reach a log (repr hides them).
    """

    update_id: int
    route: Route
    chat_id: int | None = field(default=None, repr=False)
    sender: str | None = field(default=None, repr=False)
    # Stable across redeliveries and update-id resets: the core's dedup key.
    key: str = field(default="", repr=False)
    text: str | None = field(default=None, repr=False)
    choice: str | None = field(default=None, repr=False)
    file: FileRef | None = None
    unsupported: Literal["unsupported", "edited"] | None = None
    language: str | None = None
    # The defender's own message, to wipe later with the conversation.
    trace_id: int | None = field(default=None, repr=False)
    # A message to delete as soon as the update is recorded (a file, a location).
    delete_now: int | None = field(default=None, repr=False)
    callback_id: str | None = field(default=None, repr=False)
    # The bot message whose button was pressed: its keyboard is removed.
    pressed_message: int | None = field(default=None, repr=False)
    # When Telegram received the message (Unix seconds; None for a button press):
    # the rate limit counts by it, so a backlog from our own outage is no flood.
    sent_at: float | None = None

    def inbound(self, attachment: Attachment | None = None) -> Inbound:
        if self.sender is None or self.chat_id is None:
            raise ValueError("only updates routed to the core become inbound messages")
        return Inbound(
            channel=CHANNEL,
            sender=self.sender,
            chat=str(self.chat_id),
            message_id=self.key,
            text=self.text,
            choice=self.choice,
            attachment=attachment,
            language=self.language,
            trace_id=None if self.trace_id is None else str(self.trace_id),
            unsupported=self.unsupported,
        )


def read_raw(data: Mapping[str, Any], bot: Bot | None = None) -> Incoming:
    """What an update, as Telegram sent it (JSON), asks of the channel.

    An update python-telegram-bot cannot read (a newer Bot API, a library bug)
    becomes a value, not a crash: from a private chat it is answered as
    unsupported, anything else is skipped. Either way it is acknowledged, so
    it cannot block the updates behind it.
    """
    try:
        update = Update.de_json(dict(data), bot)
    except Exception:  # noqa: BLE001 - any parsing failure: fall back to the raw fields
        return _read_unparsed(data)
    return read_update(update)


def _read_unparsed(data: Mapping[str, Any]) -> Incoming:
    """The fields we need, read by hand; keys match `read_update`'s so dedup still holds."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int):
        return Incoming(-1, Route.IGNORE)
    log.warning("telegram update not readable by the library", extra={"channel": CHANNEL})
    query = _mapping(data.get("callback_query"))
    if query:
        user_id, query_id, choice = (
            _mapping(query.get("from")).get("id"),
            query.get("id"),
            query.get("data"),
        )
        if isinstance(user_id, int) and isinstance(query_id, str) and isinstance(choice, str):
            return Incoming(
                update_id,
                Route.CORE,
                chat_id=user_id,
                sender=str(user_id),
                key=f"cb:{query_id}",
                choice=choice,
                callback_id=query_id,
            )
        return Incoming(
            update_id, Route.IGNORE, callback_id=query_id if isinstance(query_id, str) else None
        )
    edited = "message" not in data
    message = _mapping(data.get("message") or data.get("edited_message"))
    chat, user = _mapping(message.get("chat")), _mapping(message.get("from"))
    chat_id, user_id, message_id = chat.get("id"), user.get("id"), message.get("message_id")
    if not (
        isinstance(chat_id, int) and isinstance(user_id, int) and isinstance(message_id, int)
    ) or user.get("is_bot"):
        return Incoming(update_id, Route.IGNORE)
    if chat.get("type") != ChatType.PRIVATE:
        return Incoming(update_id, Route.GROUP, chat_id=chat_id)
    text = _text(message.get("text"))
    base = Incoming(
        update_id,
        Route.CORE,
        chat_id=chat_id,
        sender=str(user_id),
        key=f"msg:{chat_id}:{message_id}",
        language=_text(user.get("language_code")),
        trace_id=message_id,
        sent_at=float(message["date"]) if isinstance(message.get("date"), int) else None,
    )
    if edited:
        stamp = message.get("edit_date") if isinstance(message.get("edit_date"), int) else 0
        return replace(
            base, key=f"edit:{chat_id}:{message_id}:{stamp}", unsupported="edited", trace_id=None
        )
    if text is not None:
        return replace(base, text=_drop_start_payload(text))
    return replace(base, unsupported="unsupported")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def read_update(update: Update) -> Incoming:
    """What `update` asks of the channel."""
    if update.callback_query is not None:
        return _read_callback(update.update_id, update.callback_query)
    if update.message is not None:
        return _read_message(update.update_id, update.message, edited=False)
    if update.edited_message is not None:
        return _read_message(update.update_id, update.edited_message, edited=True)
    post = update.channel_post or update.edited_channel_post
    if post is not None:
        return Incoming(update.update_id, Route.GROUP, chat_id=post.chat.id)
    return Incoming(update.update_id, Route.IGNORE)


def _read_message(update_id: int, message: Message, *, edited: bool) -> Incoming:
    chat = message.chat
    user = message.from_user
    if chat.type != ChatType.PRIVATE:
        language = user.language_code if user is not None else None
        return Incoming(update_id, Route.GROUP, chat_id=chat.id, language=language)
    if user is None or user.is_bot:
        return Incoming(update_id, Route.IGNORE)
    base = Incoming(
        update_id,
        Route.CORE,
        chat_id=chat.id,
        sender=str(user.id),
        key=f"msg:{chat.id}:{message.message_id}",
        language=user.language_code,
        trace_id=message.message_id,
        sent_at=message.date.timestamp(),
    )
    if edited:
        # The original was traced when it came; an edit is told, not applied.
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        return replace(
            base,
            key=f"edit:{chat.id}:{message.message_id}:{stamp}",
            unsupported="edited",
            trace_id=None,
        )
    if message.text is not None:
        return replace(base, text=_drop_start_payload(message.text))
    file = _file_of(message)
    if file is not None:
        return replace(base, file=file, delete_now=message.message_id)
    if message.contact or message.location or message.venue:
        # Never read: a phone number or a position must not be stored or logged,
        # and should not stay on the device either.
        return replace(base, unsupported="unsupported", delete_now=message.message_id)
    # Stickers, voice, audio, video, polls, dice, service messages...
    return replace(base, unsupported="unsupported")


def _file_of(message: Message) -> FileRef | None:
    # An animation (GIF) also fills `document`: it is not evidence we accept.
    if message.animation is not None:
        return None
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return FileRef(largest.file_id, largest.file_size, "image/jpeg")
    document = message.document
    if document is not None:
        return FileRef(
            document.file_id,
            document.file_size,
            document.mime_type or "application/octet-stream",
            document.file_name,
        )
    return None


def _drop_start_payload(text: str) -> str:
    """`/start <payload>` from a deep link becomes `/start`: the payload may track the link."""
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    if word.lower().split("@")[0] == "/start":
        return "/start"
    return text


def _read_callback(update_id: int, query: CallbackQuery) -> Incoming:
    user = query.from_user
    message = query.message
    if message is not None and message.chat.type != ChatType.PRIVATE:
        return Incoming(update_id, Route.IGNORE, callback_id=query.id)
    if query.data is None or user.is_bot:
        return Incoming(update_id, Route.IGNORE, callback_id=query.id)
    # Answer in the sender's own private chat (its id is the user id), whatever
    # message the press claims to come from: a forged press reaches no one else.
    return Incoming(
        update_id,
        Route.CORE,
        chat_id=user.id,
        sender=str(user.id),
        key=f"cb:{query.id}",
        choice=query.data,
        language=user.language_code,
        callback_id=query.id,
        pressed_message=(
            message.message_id if message is not None and message.chat.id == user.id else None
        ),
    )
