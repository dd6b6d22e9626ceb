"""`hrd-intake serve`: the channels, each under its lease, with health and metrics.

One asyncio loop runs everything: the channels (Telegram, Matrix), each
wrapped in `bots.leased.LeasedChannel` so that several processes can share a
database and an account is consumed by one of them at a time, and the HTTP
endpoints (`HRD_INTAKE_HTTP_ADDR`). Without a configured channel, the console
channel talks on stdin/stdout (in a thread: it reads line by line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bots.console import ConsoleChannel
from bots.leased import LeasedChannel
from bots.runner import Channel, run_channels
from crypto import CryptoError
from intake.cli.checkin_task import run_checkins
from intake.cli.common import EXIT_SETUP, Context, fail, pass_context, refusals
from intake.config import Settings, parse_http_addr
from intake.core import app, background, desks
from intake.core.inbox import DurableInbox
from intake.core.service import ConversationService
from intake.errors import RoutingError
from intake.keys.directory import directory_problems
from intake.keys.draft_epochs import DraftEpochs
from intake.keys.retention import shred_draft_epochs
from intake.runtime.health import ChannelState, ChannelStatus, Health
from intake.runtime.http import Counters, StatusServer
from intake.runtime.metrics import LogCounter, ServiceMetrics
from intake.storage.channel_items import ChannelItemStore
from intake.storage.channel_state import ChannelStateStore
from intake.storage.leases import Leases, matrix_lease_name, new_holder_id, telegram_lease_name

_log = logging.getLogger(__name__)
# How often a running service destroys draft-epoch keys past the window.
SHRED_INTERVAL = 3600.0


@click.command()
@pass_context
def serve(ctx: Context) -> None:
    """Run the configured channels (the console channel when none is configured)."""
    settings = ctx.settings
    metrics = ServiceMetrics()
    service, _ = app.build_serving_service(settings, ctx.sessions, ctx.cipher, metrics=metrics)
    cipher = ctx.cipher
    health = Health(ctx.sessions, lambda: directory_problems(ctx.sessions, cipher.keyring()))
    counter = LogCounter()
    logging.getLogger().addHandler(counter)
    leases = Leases(
        ctx.sessions,
        new_holder_id(),
        timedelta(seconds=settings.leases.ttl_seconds),
        desks.utcnow,
    )
    channels = _leased_channels(ctx, service, leases, health)
    epochs = desks.build_draft_epochs(settings, ctx.cipher)
    with refusals(RoutingError):
        asyncio.run(_main(settings, ctx, health, [metrics, counter], channels, service, epochs))


def _leased_channels(
    ctx: Context, service: ConversationService, leases: Leases, health: Health
) -> list[Channel]:
    """The configured channels, each run only while this process holds its lease."""
    settings = ctx.settings
    channels: list[Channel] = []
    if settings.telegram.token is not None:
        from bots.telegram.channel import build_telegram

        def telegram() -> Channel:
            return build_telegram(settings, service)

        telegram()  # a bad setting fails now, not after the lease is taken
        name = telegram_lease_name(settings.telegram.token.get_secret_value())
        channels.append(
            LeasedChannel("telegram", name, telegram, leases, health.channel("telegram"))
        )
    if settings.matrix.homeserver:
        from bots.matrix.channel import build_matrix

        store = ChannelStateStore("matrix", ctx.sessions, ctx.cipher, desks.utcnow)
        items = ChannelItemStore("matrix", ctx.sessions, ctx.cipher, desks.utcnow)

        def matrix() -> Channel:
            return build_matrix(settings, service, store, items)

        matrix()
        name = matrix_lease_name(settings.matrix.homeserver, settings.matrix.user or "")
        channels.append(LeasedChannel("matrix", name, matrix, leases, health.channel("matrix")))
    if settings.signal.account:
        channels.append(_signal_channel(ctx, service, leases, health))
    return channels


def _signal_channel(
    ctx: Context, service: ConversationService, leases: Leases, health: Health
) -> Channel:
    """signal-cli's daemon; messages kept in the core's inbox before anything else."""
    from bots.signal.channel import build_signal, signal_lease_name

    settings = ctx.settings
    inbox = DurableInbox(service, ctx.sessions, ctx.cipher, desks.utcnow)
    status = health.channel("signal")

    def signal() -> Channel:
        return build_signal(settings, service, inbox, faults=status.set_fault)

    signal()  # a bad setting fails now, not after the lease is taken
    name = signal_lease_name(settings.signal.account or "")
    return LeasedChannel("signal", name, signal, leases, status)


async def _main(
    settings: Settings,
    ctx: Context,
    health: Health,
    counters: Sequence[Counters],
    channels: Sequence[Channel],
    service: ConversationService,
    epochs: DraftEpochs | None = None,
) -> None:
    server: StatusServer | None = None
    if settings.http_addr is not None:
        host, port = parse_http_addr(settings.http_addr)
        server = StatusServer(host, port, health, ctx.sessions, counters, desks.utcnow)
        try:
            await server.start()
        except OSError as exc:
            await server.stop()
            fail(
                f"cannot listen on {settings.http_addr} (HRD_INTAKE_HTTP_ADDR): {exc.strerror}",
                EXIT_SETUP,
            )
    web: asyncio.Task[None] | None = None
    if settings.web.listen is not None:
        # The officers' console in the same loop ([web] listen).
        from intake.web import console_app, serve_console

        web_app, store = console_app(settings, ctx.sessions, settings.web.listen)
        web = asyncio.create_task(serve_console(web_app, store, settings.web.listen))
    # Safety check-ins: due prompts go to the delivery queue, missed ones raise their case.
    scheduler = background.build_checkin_scheduler(settings, ctx.sessions, ctx.cipher)
    checkins = asyncio.create_task(run_checkins(scheduler, settings.checkins.poll_seconds))
    shredder = (
        asyncio.create_task(shred_periodically(ctx.sessions, epochs), name="draft-epochs")
        if epochs is not None
        else None
    )
    try:
        if channels:
            await run_channels(channels)
        else:
            console = ConsoleChannel(service, sys.stdin, sys.stdout)
            await _run_console(console.run, health.channel("console", leased=False))
    finally:
        if web is not None:
            web.cancel()
        checkins.cancel()
        await asyncio.gather(checkins, return_exceptions=True)
        if shredder is not None:
            shredder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shredder
        if server is not None:
            await server.stop()


async def shred_periodically(
    sessions: sessionmaker[Session],
    epochs: DraftEpochs,
    interval: float = SHRED_INTERVAL,
    clock: Callable[[], datetime] = desks.utcnow,
) -> None:
    """Destroy draft-epoch keys past the window, now and then every `interval` seconds.

    Safe to repeat and to run in several processes at once: the decision is
    made on the keyring file under its lock, and the row deletion is conditional.
    A failure (keyring file or database unreachable) is logged and tried again
    at the next interval, never in a tight loop.
    """
    while True:
        try:
            report = await asyncio.to_thread(shred_draft_epochs, sessions, epochs, clock())
        except (OSError, CryptoError, SQLAlchemyError) as exc:
            _log.error("draft epoch keys not destroyed this time: %s", type(exc).__name__)
        else:
            if report.draft_epoch_keys:
                _log.info(
                    "draft window passed",
                    extra={
                        "draft_epoch_keys": report.draft_epoch_keys,
                        "count": report.shredded_conversations,
                    },
                )
        await asyncio.sleep(interval)


async def _run_console(run: Callable[[], None], status: ChannelStatus) -> None:
    """Run the console in a daemon thread until its input ends or a signal comes."""
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[BaseException | None] = loop.create_future()

    def settle(outcome: BaseException | None) -> None:
        if not finished.done():
            finished.set_result(outcome)

    def work() -> None:
        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, re-raised there
            loop.call_soon_threadsafe(settle, exc)
        else:
            loop.call_soon_threadsafe(settle, None)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, settle, None)
    status.set(ChannelState.RUNNING, lease_held=False)
    # A daemon thread: blocked on stdin, it must not keep the process alive after a signal.
    threading.Thread(target=work, name="console", daemon=True).start()
    try:
        outcome = await finished
    finally:
        status.set(ChannelState.STOPPED, lease_held=False)
    if outcome is not None:
        raise outcome
