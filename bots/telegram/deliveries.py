"""Telegram's side of deliveries: officers' replies to defenders, notifications to officers.

The worker (`bots.deliveries`) claims and records; this module sends. A
delivery goes to its chat as plain text, cut into 4096-unit pieces like any
reply, with content protection and no link preview (`Renderer.send_or_raise`,
retried within bounds). A reply's chat is the defender's private chat; a
notification's is `[notifications] telegram_chat`, the officers' group.

Bot API failures map onto the worker's hierarchy: 403 (the defender blocked
the bot, or it left the group) and 400 (chat not found) are `Refused`; the
rest (network, 5xx, flood control that outlasted the retries) `Unavailable`.
"""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bots.deliveries import Refused, Unavailable
from bots.telegram.render import Renderer, split_text
from bots.telegram.updates import CHANNEL
from intake.messages import PendingDelivery

__all__ = ["TelegramSender", "telegram_chat"]


def telegram_chat(chat: str) -> int | str | None:
    """A Bot API chat: a numeric id, or a public channel's "@username"; None if neither."""
    text = chat.strip()
    if text.removeprefix("-").isdigit():
        return int(text)
    if text.startswith("@") and len(text) > 1:
        return text
    return None


class TelegramSender:
    """Sends deliveries with the channel's `Renderer` (a `bots.deliveries.Sender`)."""

    channel = CHANNEL

    def __init__(self, bot: Bot, renderer: Renderer) -> None:
        self._bot = bot
        self._renderer = renderer

    async def ready(self) -> bool:
        try:
            await self._bot.get_me()  # changes nothing on Telegram's side
        except TelegramError:
            return False
        return True

    async def send(self, delivery: PendingDelivery) -> list[str]:
        chat = telegram_chat(delivery.chat)
        if chat is None:
            raise Refused("not a Telegram chat id")
        sent: list[str] = []
        for piece in split_text(delivery.text):
            try:
                message_id = await self._renderer.send_or_raise(chat, piece)
            except (Forbidden, BadRequest) as exc:
                # The error's type only: its description may quote the request.
                raise Refused(type(exc).__name__, sent) from None
            except TelegramError as exc:
                raise Unavailable(type(exc).__name__, sent) from None
            sent.append(str(message_id))
        return sent
