"""`hrd-intake serve`: the channels, each under its lease, with health and metrics.

One asyncio loop runs everything: the channels (Telegram, Matrix), each
wrapped in `bots.leased.LeasedChannel` so that several processes can share a
database and an account is consumed by one of them at a time, and the HTTP
endpoints (`HRD_INTAKE_HTTP_ADDR`). Without a configured channel, the console
channel talks on stdin/stdout (in a thread: it reads line by line).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

import click

from bots.console import ConsoleChannel
from bots.leased import LeasedChannel
from bots.runner import Channel, run_channels
from flows import CountryMatcher, load_catalog
from intake.cli.common import EXIT_SETUP, Context, fail, pass_context, refusals
from intake.config import Settings, parse_http_addr
from intake.core import app
from intake.core.inbox import DurableInbox
from intake.core.service import ConversationService
from intake.errors import RoutingError
from intake.runtime.health import ChannelState, ChannelStatus, Health
from intake.runtime.http import Counters, StatusServer
from intake.runtime.metrics import LogCounter, ServiceMetrics
from intake.storage.channel_state import ChannelStateStore
from intake.storage.leases import Leases, matrix_lease_name, new_holder_id, telegram_lease_name


@click.command()
@pass_context
def serve(ctx: Context) -> None:
    """Run the configured channels (the console channel when none is configured)."""
    settings = ctx.settings
    metrics = ServiceMetrics()
    places = CountryMatcher(load_catalog().languages)
    app.prepare_in_background(places)
    service = app.build_service(settings, ctx.sessions, ctx.cipher, metrics=metrics, places=places)
    health = Health(ctx.sessions)
    counter = LogCounter()
    logging.getLogger().addHandler(counter)
    leases = Leases(
        ctx.sessions,
        new_holder_id(),
        timedelta(seconds=settings.leases.ttl_seconds),
        app.utcnow,
    )
    channels = _leased_channels(ctx, service, leases, health)
    with refusals(RoutingError):
        asyncio.run(_main(settings, ctx, health, [metrics, counter], channels, service))


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

        store = ChannelStateStore("matrix", ctx.sessions, ctx.cipher, app.utcnow)

        def matrix() -> Channel:
            return build_matrix(settings, service, store)

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
    inbox = DurableInbox(service, ctx.sessions, ctx.cipher, app.utcnow)
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
) -> None:
    server: StatusServer | None = None
    if settings.http_addr is not None:
        host, port = parse_http_addr(settings.http_addr)
        server = StatusServer(host, port, health, ctx.sessions, counters, app.utcnow)
        try:
            await server.start()
        except OSError as exc:
            await server.stop()
            fail(
                f"cannot listen on {settings.http_addr} (HRD_INTAKE_HTTP_ADDR): {exc.strerror}",
                EXIT_SETUP,
            )
    try:
        if channels:
            await run_channels(channels)
        else:
            console = ConsoleChannel(service, sys.stdin, sys.stdout)
            await _run_console(console.run, health.channel("console", leased=False))
    finally:
        if server is not None:
            await server.stop()


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
