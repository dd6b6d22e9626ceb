"""The Signal channel: signal-cli's JSON-RPC daemon, run by the operator beside the bot.

    channel = build_signal(settings, service, inbox, faults=status.fault)
    await channel.run(stop)      # until `stop` is set

No Python library speaks Signal's protocol; signal-cli does, and its daemon
(`signal-cli -a ACCOUNT daemon --socket PATH --receive-mode manual`, or
`--tcp 127.0.0.1:7583`) speaks newline-delimited JSON-RPC 2.0 (`rpc`). Manual
receive mode matters: in the default mode (`on-start`) signal-cli receives,
acknowledges and drops messages while no client is connected; in manual mode
it receives only while the bot is subscribed, so while the bot is down
messages wait on Signal's server.

One session: connect, `version` (is it there?), `resume` what a killed run
left (`pipeline`), `subscribeReceive`, then batches of notifications until
the connection drops or `stop` is set. A session that fails is reported
(`faults`: what `/readyz` and `hrd_intake_channel_fault` show) and retried
with bounded backoff, for ever: the channel never raises for the daemon's
sake, so `serve` keeps the other channels running.

Faults: `connecting` (until the first subscription: not ready yet),
`daemon_unreachable` (no socket, refused, hung up), `account_unregistered`
(signal-cli's account was unregistered or its device unlinked),
`client_outdated` (Signal refuses this signal-cli version: update it; Signal
expires clients about every three months), `rate_limited`, `daemon_error`.

Each sender is rate-limited as on Telegram (`bots.ratelimit`: burst 10, then
30 a minute); what is over the limit is dropped unread and the sender told
once (`pipeline` says why it is not marked read).

Beside the loop, a delivery worker (`bots.deliveries`) sends what officers
queued (`deliveries`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bots.core import Core, Inbox
from bots.deliveries import DeliveryTiming, DeliveryWorker, run_beside
from bots.ratelimit import RateLimiter
from bots.signal.deliveries import SignalSender
from bots.signal.files import AttachmentFolder, default_folder
from bots.signal.pipeline import CHANNEL, Pipeline
from bots.signal.rpc import DaemonUnavailable, Endpoint, RpcClient, RpcError, parse_endpoint
from intake.config import Settings

__all__ = ["SignalChannel", "SignalConfig", "build_signal", "signal_lease_name"]

log = logging.getLogger(__name__)

BATCH = 100  # notifications kept in one transaction at most
FaultReport = Callable[[str | None], None]


def signal_lease_name(account: str) -> str:
    """The lease of the bot's Signal account (its number is no secret: defenders see it)."""
    digest = hashlib.sha256(b"hrd-intake lease\x00signal\x00" + account.encode("utf-8"))
    return f"signal:{digest.hexdigest()[:32]}"


@dataclass(frozen=True)
class SignalConfig:
    account: str
    endpoint: Endpoint
    attachments: Path
    disappearing_seconds: int = 86400
    deliveries: DeliveryTiming = field(default_factory=DeliveryTiming)
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    call_timeout: float = 30.0


class SignalChannel:
    """Runs the Signal channel until `stop` is set (see the module docstring).

    Args:
        limiter: per-sender rate limit (default: burst 10, then 30 a minute).
    """

    name = CHANNEL

    def __init__(
        self,
        service: Core,
        inbox: Inbox,
        config: SignalConfig,
        faults: FaultReport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._config = config
        self._faults = faults or (lambda fault: None)
        self._fault: str | None = None
        self._client: RpcClient | None = None
        folder = AttachmentFolder(config.attachments, service.max_attachment_bytes)
        self._pipeline = Pipeline(service, inbox, folder, config.disappearing_seconds, limiter)
        self._deliveries = DeliveryWorker(service, SignalSender(self._call), config.deliveries)
        self._rng = random.Random()  # noqa: S311 - backoff jitter, not a secret

    async def run(self, stop: asyncio.Event) -> None:
        self._report("connecting")  # not ready until subscribed
        try:
            await run_beside(self._loop(stop), self._deliveries, stop)
        finally:
            self._fault = None
            self._faults(None)
            log.info("signal channel stopped", extra={"channel": CHANNEL})

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        """One call on the current connection (DaemonUnavailable without one)."""
        client = self._client
        if client is None or client.closed:
            raise DaemonUnavailable("not connected to signal-cli")
        return await client.call(method, params or None, timeout=self._config.call_timeout)

    def _report(self, fault: str | None) -> None:
        if fault != self._fault:
            self._fault = fault
            self._faults(fault)
            if fault is None:
                log.info("signal channel connected", extra={"channel": CHANNEL})
            elif fault == "connecting":
                log.info("signal channel connecting", extra={"channel": CHANNEL})
            elif fault == "daemon_unreachable":
                log.warning("signal-cli daemon unreachable", extra={"channel": CHANNEL})
            else:
                log.error("signal-cli refuses: %s", fault, extra={"channel": CHANNEL})

    async def _loop(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self._client = await RpcClient.connect(self._config.endpoint)
                await self._session(self._client, stop)
                failures = 0
            except DaemonUnavailable:
                self._report("daemon_unreachable")
                failures += 1
            except RpcError as exc:
                self._report(exc.fault or "daemon_error")
                failures += 1
            finally:
                client, self._client = self._client, None
                if client is not None:
                    await client.close()
            if not stop.is_set() and failures:
                # Bounded, jittered backoff; safe: a session only reads what is kept.
                ceiling = min(
                    self._config.max_backoff, self._config.base_backoff * 2 ** min(failures, 10)
                )
                await _sleep_or_stop(stop, ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def _session(self, client: RpcClient, stop: asyncio.Event) -> None:
        await client.call("version", timeout=self._config.call_timeout)
        await self._pipeline.resume(self._call)
        await client.call("subscribeReceive", timeout=self._config.call_timeout)
        self._report(None)
        self._deliveries.wake()
        # Keeping never waits for answering: what is read is kept at once.
        kept = asyncio.Event()
        keeper = asyncio.create_task(self._keep(client, stop, kept), name="signal-keep")
        answerer = asyncio.create_task(self._answer(kept), name="signal-answer")
        try:
            done, _ = await asyncio.wait({keeper, answerer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the keeper ends on stop; a failure propagates
            answerer.cancel()
            kept.set()
        finally:
            for task in (keeper, answerer):
                if not task.done():
                    task.cancel()
            await asyncio.gather(keeper, answerer, return_exceptions=True)

    async def _keep(self, client: RpcClient, stop: asyncio.Event, kept: asyncio.Event) -> None:
        while not stop.is_set():
            first = await _next_or_stop(client.notifications, stop)
            if first is None:
                if stop.is_set():
                    return
                raise DaemonUnavailable("signal-cli hung up")
            batch = [first]
            while len(batch) < BATCH and not client.notifications.empty():
                item = client.notifications.get_nowait()
                if item is None:
                    client.notifications.put_nowait(None)  # seen again after this batch
                    break
                batch.append(item)
            await self._pipeline.keep(self._call, batch)
            kept.set()

    async def _answer(self, kept: asyncio.Event) -> None:
        while True:
            await kept.wait()
            kept.clear()
            await self._pipeline.answer(self._call)
            self._deliveries.wake()  # a submission may have queued a notification


async def _next_or_stop(
    queue: asyncio.Queue[dict[str, Any] | None], stop: asyncio.Event
) -> dict[str, Any] | None:
    getting = asyncio.ensure_future(queue.get())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()
    await asyncio.gather(getting, return_exceptions=True)
    return None


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def build_signal(
    settings: Settings,
    service: Core,
    inbox: Inbox,
    faults: FaultReport | None = None,
    limiter: RateLimiter | None = None,
    **options: Any,
) -> SignalChannel:
    """The channel from the settings (`serve` calls this); `options` go to `SignalConfig`.

    Raises:
        ValueError: no account or daemon address, or an address off loopback.
    """
    signal = settings.signal
    if not signal.account or not signal.rpc:
        raise ValueError(
            "the Signal channel needs HRD_INTAKE_SIGNAL_ACCOUNT and HRD_INTAKE_SIGNAL_RPC"
        )
    config = SignalConfig(
        account=signal.account,
        endpoint=parse_endpoint(signal.rpc),
        attachments=signal.attachments or default_folder(),
        disappearing_seconds=signal.disappearing_seconds,
        **options,
    )
    return SignalChannel(service, inbox, config, faults, limiter)
