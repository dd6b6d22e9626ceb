"""Webhook mode: Telegram POSTs updates to us; we answer 200 only once they are recorded.

The server listens on loopback (`127.0.0.1`, the port of `webhook_url`, 8443
when the URL names none) behind a TLS reverse proxy that forwards the URL's
path. Telegram proves each request with `X-Telegram-Bot-Api-Secret-Token`, a
random secret chosen at every start and given to setWebhook; anything else
gets 401.

Requests arriving together are recorded together: one worker takes every
waiting update (up to 100), processes them as one batch in update order,
and answers each request: 200 when recorded, 503 otherwise (Telegram then
sends the update again later; the core processes it once).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot

from bots.telegram.batch import BatchProcessor
from bots.telegram.retry import Backoff, call
from bots.telegram.updates import ALLOWED_UPDATES, CHANNEL, Incoming, read_raw

log = logging.getLogger("bots.telegram.channel")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
DEFAULT_PORT = 8443
MAX_BATCH = 100


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram posts (`url`) and where we listen (`host`, `port`, `path`)."""

    url: str
    host: str
    port: int
    path: str

    @classmethod
    def from_url(cls, url: str, host: str = "127.0.0.1") -> WebhookConfig:
        """Listen on `host` at the URL's port (8443 if none) and path.

        Raises:
            ValueError: the URL is not http(s) or has no host.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"telegram webhook_url must be an https URL, not {url!r}")
        if parts.scheme != "https":
            log.warning("telegram webhook_url is not https: Telegram accepts only https")
        return cls(url, host, parts.port or DEFAULT_PORT, parts.path or "/")


@dataclass
class _Waiting:
    update: Incoming
    done: asyncio.Future[bool]


class WebhookServer:
    """Receives updates over HTTP and feeds them to the batch processor."""

    def __init__(self, bot: Bot, processor: BatchProcessor, config: WebhookConfig) -> None:
        self._bot = bot
        self._processor = processor
        self._config = config
        # Random per start: a leaked old secret is useless after a restart.
        self._secret = secrets.token_urlsafe(32)
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self._config.path, self._receive)
        # No access log: it would record paths, client addresses and times.
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._config.host, self._config.port)
        await site.start()
        worker = asyncio.create_task(self._work(stop), name="telegram-webhook")
        try:
            await self._register(stop)
            log.info("telegram webhook listening", extra={"channel": CHANNEL})
            await stop.wait()
        finally:
            self._arrived.set()
            await worker
            for waiting in self._waiting:
                if not waiting.done.done():
                    waiting.done.set_result(False)
            await runner.cleanup()

    async def _register(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                # setWebhook replaces any earlier registration: safe to repeat.
                await call(
                    lambda: self._bot.set_webhook(
                        self._config.url,
                        secret_token=self._secret,
                        allowed_updates=list(ALLOWED_UPDATES),
                        drop_pending_updates=False,
                    ),
                    what="setWebhook",
                    attempts=5,
                    backoff=Backoff(),
                )
                return
            except Exception:  # keep trying: nothing arrives until it is set
                log.exception("telegram setWebhook failed", extra={"channel": CHANNEL})
                attempt += 1
                try:
                    await asyncio.wait_for(stop.wait(), Backoff().delay(attempt))
                except TimeoutError:
                    pass

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.Response(status=401)
        try:
            data = json.loads(await request.read())
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # Not JSON: Telegram would resend it forever, and it cannot be read either way.
            log.error("unreadable telegram update dropped", extra={"channel": CHANNEL})
            return web.Response(status=200)
        waiting = _Waiting(read_raw(data, self._bot), asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._arrived.set()
        recorded = await waiting.done
        return web.Response(status=200 if recorded else 503)

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._arrived.wait()
            self._arrived.clear()
            while self._waiting and not stop.is_set():
                taken = sorted(self._waiting[:MAX_BATCH], key=lambda w: w.update.update_id)
                del self._waiting[: len(taken)]
                try:
                    consumed = await self._processor.process([w.update for w in taken])
                except Exception:  # answered 503: Telegram sends them again
                    log.exception("telegram batch not recorded", extra={"channel": CHANNEL})
                    consumed = 0
                    for waiting in taken:
                        waiting.done.set_result(False)
                    continue
                for waiting in taken[:consumed]:
                    waiting.done.set_result(True)
                self._waiting[:0] = taken[consumed:]  # over the byte budget: next round
