"""The Telegram channel, on python-telegram-bot's `Bot` (not its `Updater`).

Polling is a small loop of our own over `getUpdates`: PTB's Updater fetches
the next batch (and so acknowledges the previous one) before the handlers
have finished, which would lose messages on a crash. Here a batch is
acknowledged only after the core recorded it and the replies went out::

    getUpdates(offset) -> prepare (rate limit, downloads) -> commit (core, one
    transaction, in a thread) -> deliver (replies, wipes, sent ids) ->
    getUpdates(offset = last update id + 1)   # acknowledges the batch

A SIGKILL at any point leaves the batch unacknowledged: Telegram sends it
again and the core processes each message once. When the core fails, the
same prepared batch is retried with backoff, for as long as it takes.

With `[telegram] webhook_url` set, Telegram POSTs updates instead (see
`webhook`); the same batch processing answers 200 only once
recorded.

Beside either loop, a delivery worker (`bots.deliveries`, `deliveries`)
sends what officers queued: replies into the defenders' chats, notifications
into `[notifications] telegram_chat` (a group the bot stays in, silently).

Module layout: `updates` reads updates (no I/O), `batch`
drives one batch, `render` makes the Bot API calls,
`retry` bounds the retries, `webhook` the HTTP server. The
per-sender limit is `bots.ratelimit`, shared with the Signal channel.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from bots.core import Core
from bots.deliveries import DeliveryTiming, DeliveryWorker, run_beside
from bots.ratelimit import RateLimiter
from bots.telegram.batch import Batch, BatchProcessor
from bots.telegram.deliveries import TelegramSender, telegram_chat
from bots.telegram.render import Renderer
from bots.telegram.retry import Backoff, retry_after_seconds
from bots.telegram.updates import ALLOWED_UPDATES, CHANNEL, Incoming, read_raw
from bots.telegram.webhook import WebhookConfig, WebhookServer
from intake.config import Settings
from intake.messages import Outbound

__all__ = ["TelegramChannel", "build_telegram"]

log = logging.getLogger("bots.telegram.channel")

JSONDict = dict[str, Any]

POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates open when there is nothing
POLL_READ_MARGIN = 10  # seconds beyond that before the poll counts as timed out
CONCURRENT_CALLS = 8  # Bot API calls in flight at once (sends to different chats, downloads)
# PTB loggers that may print request parameters (text, chat ids) or the URL (the token).
_LIBRARY_LOGGERS = ("telegram", "telegram.Bot", "telegram.request.BaseRequest", "telegram.ext")


class ChannelStopped(Exception):
    """`stop` was set while waiting; the batch in hand stays unacknowledged."""


class TelegramChannel:
    """Runs the Telegram channel until `stop` is set.

    Args:
        bot: a python-telegram-bot `Bot` (not yet initialised).
        service: the conversation service.
        webhook: listen for Telegram's POSTs instead of polling.
        limiter: per-sender rate limit (default: burst 10, then 30 a minute).
        poll_timeout: long-poll seconds.
        backoff: delays between polls and commits that failed.
        send_backoff: delays between tries of one Bot API call (a send, a delete).
        outage_grace: seconds of failing commits before defenders are told
            the bot will answer shortly.
        officers_chat: the officers' notification group (stayed in, never answered).
        deliveries: how the delivery worker polls and backs off.
    """

    name = CHANNEL

    def __init__(
        self,
        bot: Bot,
        service: Core,
        *,
        webhook: WebhookConfig | None = None,
        limiter: RateLimiter | None = None,
        poll_timeout: int = POLL_TIMEOUT,
        backoff: Backoff | None = None,
        send_backoff: Backoff | None = None,
        outage_grace: float = 5.0,
        officers_chat: int | None = None,
        deliveries: DeliveryTiming | None = None,
    ) -> None:
        self._bot = bot
        self._webhook = webhook
        self._poll_timeout = poll_timeout
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        renderer = Renderer(bot, backoff=send_backoff)
        self._deliveries = DeliveryWorker(service, TelegramSender(bot, renderer), deliveries)
        self._processor = BatchProcessor(
            service,
            renderer,
            RateLimiter() if limiter is None else limiter,
            outage_grace=outage_grace,
            concurrency=CONCURRENT_CALLS,
            officers_chat=officers_chat,
            after_batch=self._deliveries.wake,
        )

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._until_ready(stop)
            if self._webhook is not None:
                main = WebhookServer(self._bot, self._processor, self._webhook).run(stop)
            else:
                main = self._poll_loop(stop)
            await run_beside(main, self._deliveries, stop)
        except ChannelStopped:
            pass
        finally:
            await self._processor.remember_sent()
            await self._bot.shutdown()
            log.info("telegram channel stopped", extra={"channel": CHANNEL})

    # -- start ----------------------------------------------------------------

    async def _until_ready(self, stop: asyncio.Event) -> None:
        """getMe (and, for polling, deleteWebhook), retried until they work or stop is set.

        Raises:
            InvalidToken: Telegram does not know the token (a configuration error).
            ChannelStopped: stop was set first.
        """
        attempt = 0
        while True:
            try:
                await self._bot.initialize()
                if self._webhook is None:
                    # A webhook left by an earlier run would make getUpdates fail (409).
                    await self._bot.delete_webhook(drop_pending_updates=False)
                log.info("telegram channel started", extra={"channel": CHANNEL})
                return
            except InvalidToken:
                log.error("telegram refused the bot token", extra={"channel": CHANNEL})
                raise
            except TelegramError as exc:
                await self._pause(stop, exc, attempt)
                attempt += 1

    async def _pause(self, stop: asyncio.Event, exc: BaseException, attempt: int) -> None:
        """Wait before the next try (Telegram's retry_after on 429); ChannelStopped if stopped."""
        delay = (
            retry_after_seconds(exc)
            if isinstance(exc, RetryAfter)
            else self._backoff.delay(attempt)
        )
        log.warning(
            "telegram unavailable (%s); retrying in %.1fs",
            type(exc).__name__,
            delay,
            extra={"channel": CHANNEL, "count": attempt + 1},
        )
        await _sleep_or_stop(stop, delay)

    # -- polling --------------------------------------------------------------

    async def _poll_loop(self, stop: asyncio.Event) -> None:
        offset: int | None = None
        acknowledged = True
        attempt = 0
        try:
            while not stop.is_set():
                try:
                    updates = await self._poll(stop, offset)
                except InvalidToken:
                    raise
                except TelegramError as exc:
                    # Polling never gives up: Telegram keeps what we did not acknowledge.
                    await self._pause(stop, exc, attempt)
                    attempt += 1
                    continue
                attempt, acknowledged = 0, True
                if updates:
                    last = await self._handle(stop, updates)
                    offset, acknowledged = last + 1, False
        except ChannelStopped:
            pass
        if not acknowledged and offset is not None:
            await self._acknowledge(offset)

    async def _poll(self, stop: asyncio.Event, offset: int | None) -> list[Incoming]:
        """One long poll; calling it with `offset` acknowledges every update before it.

        The updates come as JSON and are read one by one (`read_raw`): PTB's
        `get_updates` fails the whole batch when it cannot read one update,
        which would block every defender behind it for good.
        """
        poll = asyncio.ensure_future(self._get_updates(offset, self._poll_timeout, 100))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not poll.done():
            # Whatever this poll would have returned stays unacknowledged.
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
            raise ChannelStopped
        return [read_raw(raw, self._bot) for raw in poll.result()]

    async def _get_updates(self, offset: int | None, timeout: int, limit: int) -> list[JSONDict]:
        """getUpdates, answered as JSON (not parsed by PTB)."""
        result = await self._bot.do_api_request(
            "get_updates",
            api_kwargs={
                "offset": offset,
                "timeout": timeout,
                "limit": limit,
                "allowed_updates": list(ALLOWED_UPDATES),
            },
            read_timeout=timeout + POLL_READ_MARGIN,
        )
        if not isinstance(result, list):
            raise NetworkError("getUpdates did not answer a list")
        return [raw for raw in result if isinstance(raw, dict)]

    async def _handle(self, stop: asyncio.Event, updates: Sequence[Incoming]) -> int:
        """Record and answer a prefix of `updates`; the last update id handled.

        Retries the commit until it succeeds: acknowledging an unrecorded
        update would lose it. Raises ChannelStopped if stopped meanwhile.
        """
        attempt = 0
        while True:
            try:
                batch = await self._processor.prepare(updates)
                break
            except TelegramError as exc:
                await self._pause(stop, exc, attempt)
                attempt += 1
        results = await self._commit(stop, batch)
        await self._processor.deliver(batch, results)
        return batch.last_update_id

    async def _commit(self, stop: asyncio.Event, batch: Batch) -> list[list[Outbound]]:
        attempt = 0
        while True:
            try:
                return await self._processor.commit(batch)
            except Exception:  # the core rolled back: nothing recorded; retry
                log.exception(
                    "telegram batch not recorded; will retry",
                    extra={"channel": CHANNEL, "count": len(batch)},
                )
                await self._processor.failed(batch)
                delay = self._backoff.delay(attempt)
                attempt += 1
                await _sleep_or_stop(stop, delay)

    async def _acknowledge(self, offset: int) -> None:
        """On a clean stop, confirm the last batch so it is not sent again."""
        try:
            await self._get_updates(offset, timeout=0, limit=1)
        except TelegramError as exc:
            # Unacknowledged: the core will see the batch again and skip it.
            log.warning("last batch not acknowledged (%s)", type(exc).__name__)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep; raise ChannelStopped as soon as stop is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
    raise ChannelStopped


def _quiet_library_logs() -> None:
    """PTB logs request parameters and URLs (with the token) at DEBUG: keep it above."""
    # `_poll` reads getUpdates as JSON on purpose (see there); PTB warns about it.
    warnings.filterwarnings(
        "ignore", message=r"Please use 'Bot\.get_updates'", category=PTBUserWarning
    )
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
        if _drop_arguments not in logger.filters:
            logger.addFilter(_drop_arguments)


def _drop_arguments(record: logging.LogRecord) -> bool:
    """Keep a library record's template, drop its arguments (they may quote updates)."""
    record.args = None
    return True


def build_telegram(
    settings: Settings, service: Core, **options: Any
) -> TelegramChannel:
    """The channel from the settings (`serve` calls this).

    Args:
        settings: `settings.telegram` gives the token, API URL and webhook URL.
        service: the conversation service.
        options: passed to `TelegramChannel` (tests: limiter, poll_timeout...).

    Raises:
        ValueError: no token, an API URL that is not http(s), or an officers' chat
            that is not a chat id.
    """
    telegram = settings.telegram
    if telegram.token is None:
        raise ValueError("the Telegram channel needs HRD_INTAKE_TELEGRAM_TOKEN")
    api = telegram.api_url.rstrip("/")
    parts = urlsplit(api)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"HRD_INTAKE_TELEGRAM_API_URL must be an http(s) URL, not {api!r}")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the Telegram API URL is plain http off this machine: the token travels clear")
    _quiet_library_logs()
    bot = Bot(
        telegram.token.get_secret_value(),
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        # Sends to several chats go out together (PTB's default pool is one
        # connection); more connections cost httpcore more than they bring, and
        # Telegram allows a bot about 30 messages a second anyway.
        request=HTTPXRequest(
            connection_pool_size=CONCURRENT_CALLS,
            read_timeout=15,
            write_timeout=30,
            pool_timeout=10,
        ),
        get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=10),
    )
    webhook = WebhookConfig.from_url(telegram.webhook_url) if telegram.webhook_url else None
    officers = settings.notifications.telegram_chat
    if officers is not None:
        chat = telegram_chat(officers)
        if chat is None:
            raise ValueError("[notifications] telegram_chat must be a chat id or an @channel")
        # Only a numeric id can be recognised in updates (to stay in the group).
        options.setdefault("officers_chat", chat if isinstance(chat, int) else None)
    return TelegramChannel(bot, service, webhook=webhook, **options)
