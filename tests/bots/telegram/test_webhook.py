"""Webhook mode: 200 only once recorded, the secret header checked, failures answered 503."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bots.telegram.webhook import SECRET_HEADER, WebhookConfig
from intake.messages import Inbound, Outbound
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.bots.telegram.test_failures import recorded
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup

MENU = "What would you like to do?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, update: dict[str, Any], secret: str) -> int:
    return httpx.post(url, json=update, headers={SECRET_HEADER: secret}, timeout=20).status_code


def test_webhook_config_listens_on_loopback_at_the_urls_port_and_path() -> None:
    config = WebhookConfig.from_url("https://bot.example.org/tg/9f8e7d")
    assert (config.host, config.port, config.path) == ("127.0.0.1", 8443, "/tg/9f8e7d")
    assert WebhookConfig.from_url("https://bot.example.org:8444/hook").port == 8444
    with pytest.raises(ValueError, match="https URL"):
        WebhookConfig.from_url("ftp://bot.example.org/hook")


def test_webhook_answers_200_once_recorded_and_503_when_not(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(8101)
    service = primary_setup.service()
    real, failures = service.handle_batch, {"left": 0}

    def flaky(messages: Sequence[Inbound]) -> list[list[Outbound]]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database unavailable")
        return real(messages)

    service.handle_batch = flaky  # type: ignore[method-assign]
    url = f"http://127.0.0.1:{free_port()}/tg/hook"
    with telegram_run(primary_setup, service=service, webhook_url=url):
        registered = tg.wait_for(lambda t: t.calls_to("setWebhook"), 10)[-1]
        assert registered["url"] == url
        secret = registered["secret_token"]
        assert len(secret) >= 32
        assert "callback_query" in registered["allowed_updates"]

        # A request without the secret is refused and changes nothing.
        start = tg.update(tg.inject_message(me.chat_id, me.user_id, "/start"))
        assert post(url, start, "wrong") == 401
        assert httpx.post(url, json=start, timeout=5).status_code == 401
        assert me.texts() == []

        # When the core fails, Telegram is told to send it again; then it is recorded once.
        failures["left"] = 1
        assert post(url, start, secret) == 503
        assert post(url, start, secret) == 200
        assert any(MENU in text for text in me.texts())  # answered before the 200
        assert post(url, start, secret) == 200  # a redelivery: recorded already

        # Updates arriving together are recorded together, in order, each answered.
        others = [telegram_defender(8200 + n) for n in range(6)]
        updates = [tg.update(tg.inject_message(o.chat_id, o.user_id, "/start")) for o in others]
        with ThreadPoolExecutor(len(updates)) as pool:
            codes = list(pool.map(lambda u: post(url, u, secret), updates))
        assert codes == [200] * len(updates)
        assert all(any(MENU in t for t in o.texts()) for o in others)
        assert tg.calls_to("getUpdates") == []  # no polling beside the webhook
    assert recorded(primary_setup) == 1 + len(others)
