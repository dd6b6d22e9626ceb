"""Fixtures for the channel tests. Telegram ones are named telegram_*."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from bots.ratelimit import RateLimiter
from bots.telegram.channel import TelegramChannel, build_telegram
from intake.config import Settings, TelegramSettings
from intake.core.service import ConversationService
from tests.support.channel_thread import ChannelThread
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup

TELEGRAM_TOKEN = "123:ABC"


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegram]:
    """The fake Bot API server on 127.0.0.1."""
    with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        yield fake


def telegram_settings(setup: Setup, fake: FakeTelegram, **telegram: Any) -> Settings:
    """The setup's settings with the Telegram channel pointed at the fake server."""
    return setup.settings.model_copy(
        update={
            "telegram": TelegramSettings(
                token=TELEGRAM_TOKEN,  # type: ignore[arg-type]  # pydantic converts it
                api_url=fake.api_root,
                **telegram,
            )
        }
    )


TelegramRunning = ChannelThread[TelegramChannel]


RunTelegram = Callable[..., AbstractContextManager[TelegramRunning]]


@pytest.fixture
def telegram_run(telegram_fake: FakeTelegram) -> RunTelegram:
    """`with telegram_run(setup, service=None, webhook_url=None, **options): ...`

    Runs the channel built by `build_telegram`, as `serve` does; `options` go
    to `TelegramChannel`. The rate limit is lenient unless a limiter is given:
    scripted defenders type faster than people.
    """

    @contextmanager
    def run(
        setup: Setup,
        service: ConversationService | None = None,
        webhook_url: str | None = None,
        **options: Any,
    ) -> Iterator[TelegramRunning]:
        settings = telegram_settings(setup, telegram_fake, webhook_url=webhook_url)
        options.setdefault("limiter", RateLimiter(burst=1000, per_minute=6000))
        channel = build_telegram(settings, service or setup.service(), **options)
        running = TelegramRunning(channel, "telegram-channel").start()
        try:
            yield running
        finally:
            running.stop()

    return run


class TelegramDefender:
    """A defender in a private chat with the bot; each action waits until it is answered.

    "Answered" means acknowledged: the channel confirms an update (next
    getUpdates offset) only after recording it and sending the replies.
    """

    def __init__(self, fake: FakeTelegram, user_id: int, username: str | None = None) -> None:
        self.fake, self.user_id, self.username = fake, user_id, username

    @property
    def chat_id(self) -> int:
        return self.user_id

    def settle(self, update_id: int, timeout: float = 15.0) -> int:
        self.fake.wait_for(
            lambda t: t.confirmed_offset > update_id, timeout, f"update {update_id} handled"
        )
        return update_id

    def say(self, text: str, wait: bool = True, **kwargs: Any) -> int:
        uid = self.fake.inject_message(
            self.chat_id, self.user_id, text, username=self.username, **kwargs
        )
        return self.settle(uid) if wait else uid

    def send(self, wait: bool = True, **kwargs: Any) -> int:
        """A non-text message: photo=..., document=..., sticker=True, location=..."""
        uid = self.fake.inject_message(self.chat_id, self.user_id, username=self.username, **kwargs)
        return self.settle(uid) if wait else uid

    def press(self, value: str, wait: bool = True) -> int:
        uid = self.fake.press(self.chat_id, self.user_id, value)
        return self.settle(uid) if wait else uid

    def texts(self) -> list[str]:
        """The bot's messages still in the chat."""
        return [m.get("text", "") for m in self.fake.sent_messages(self.chat_id)]

    def last_text(self) -> str:
        return self.fake.last_sent(self.chat_id).get("text", "")


@pytest.fixture
def telegram_defender(telegram_fake: FakeTelegram) -> Callable[..., TelegramDefender]:
    def make(user_id: int = 4242, username: str | None = None) -> TelegramDefender:
        return TelegramDefender(telegram_fake, user_id, username)

    return make
