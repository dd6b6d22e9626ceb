"""Messages per second through the Signal channel, beside a bare echo client, on the same fake.

Both clients run in this process against the fake signal-cli daemon
(tests/support/fake_signal.py) on a Unix socket (or `--transport tcp` on
127.0.0.1), one after the other, with the same closed-loop load:
`--defenders` write at once, each sending its next message as soon as the
bot has answered the previous one (its first reply to that defender).

- echo: `bots.signal.rpc.RpcClient` subscribed, answering each notification
  with `send` of the same text: the JSON-RPC path and nothing else.
- hrd-intake: `bots.signal.channel` on the full stack: each notification kept
  sealed in the inbox (SQLite, WAL, synchronous=FULL) before anything else,
  marked read, answered by the core in one transaction (flow engine,
  encryption), replies numbered, remote deletes after submission, sent
  timestamps recorded. Each defender files a whole threat report (14
  messages, typed answers), so every run creates `--defenders` cases.

Latency is from the injection of a message to the bot's first reply to
that defender.

    .venv/bin/python bench/signal_channel.py [--defenders 20] [--transport unix|tcp] [--repeat 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where its name would
# shadow the standard library's `signal` (asyncio imports it): put the repository there,
# before anything imports asyncio.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Coroutine  # noqa: E402
from typing import Any  # noqa: E402

from bots.ratelimit import RateLimiter  # noqa: E402
from bots.signal.channel import build_signal  # noqa: E402
from bots.signal.rpc import RpcClient, parse_endpoint  # noqa: E402
from intake.config import SignalSettings, load_settings  # noqa: E402
from intake.core import app, desks  # noqa: E402
from intake.core.inbox import DurableInbox  # noqa: E402
from tests.support.defender import numbered_threat_report  # noqa: E402
from tests.support.fake_signal import FakeSignal  # noqa: E402

DETAILS, CONTACT = "They followed me home after the hearing.", "Signal, evenings"
SCRIPT = ["/start", *numbered_threat_report(DETAILS, CONTACT)]


class TimedFake(FakeSignal):
    """The fake daemon, waking the defender a `send` answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.replied = threading.Condition()
        self.replies: dict[str, int] = {}

    def _rpc_send(self, conn: Any, params: dict[str, Any]) -> dict[str, Any]:
        result = super()._rpc_send(conn, params)
        recipient = params["recipient"][0] if params.get("recipient") else ""
        with self.replied:
            self.replies[recipient] = self.replies.get(recipient, 0) + 1
            self.replied.notify_all()
        return result


def defenders_run(
    fake: TimedFake, names: list[str], script: list[str]
) -> tuple[float, list[float]]:
    """Each defender in a thread: write, wait for the first reply, write the next."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(name: str) -> None:
        for text in script:
            with fake.replied:
                before = fake.replies.get(name, 0)
            sent = time.perf_counter()
            fake.inject(name, text)
            with fake.replied:
                if not fake.replied.wait_for(lambda b=before: fake.replies.get(name, 0) > b, 60):
                    raise RuntimeError("no reply within 60 s")
            with lock:
                latencies.append(time.perf_counter() - sent)

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


def in_thread(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """Run `main(stop)` on a loop of its own; returns the function that stops it."""
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def body() -> None:
        async def runner() -> None:
            holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await main(holder["stop"])

        asyncio.run(runner())

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(30)

    return stop


async def echo(fake: TimedFake, stop: asyncio.Event) -> None:
    client = await RpcClient.connect(parse_endpoint(fake.rpc_spec))
    await client.call("subscribeReceive")
    while not stop.is_set():
        try:
            params = await asyncio.wait_for(client.notifications.get(), 0.2)
        except TimeoutError:
            continue
        if params is None:
            return
        envelope = params["result"]["envelope"]
        text = envelope["dataMessage"]["message"]
        await client.call("send", {"recipient": [envelope["sourceUuid"]], "message": text})
    await client.close()


def run_once(kind: str, defenders: int, transport: str) -> tuple[float, list[float], int]:
    with tempfile.TemporaryDirectory(prefix="hrd-signal-bench") as tmp:
        fake = TimedFake(Path(tmp) / "attachments", transport=transport).start()
        names = [f"bench-{n:04d}-4000-8000-000000000000" for n in range(defenders)]
        try:
            if kind == "echo":
                stop = in_thread(lambda s: echo(fake, s))
            else:
                env = {"HRD_INTAKE_HOME": str(Path(tmp) / "home")}
                app.initialise(load_settings(env), demo=True)
                settings = load_settings(env).model_copy(
                    update={
                        "signal": SignalSettings(
                            account="+15550100", rpc=fake.rpc_spec, attachments=fake.attachments
                        )
                    }
                )
                _engine, sessions = desks.open_database(settings)
                cipher = desks.build_cipher(settings, sessions)
                service, preparing = app.build_serving_service(settings, sessions, cipher)
                preparing.join()  # measure the service as it runs once started
                inbox = DurableInbox(service, sessions, cipher, desks.utcnow)
                # The whole path, not the limit: scripted defenders outpace any person.
                limiter = RateLimiter(burst=1_000_000, per_minute=1_000_000)
                channel = build_signal(settings, service, inbox, limiter=limiter)
                stop = in_thread(channel.run)
            fake.wait_for(lambda f: f.subscribed_total, 10, "subscribed")
            elapsed, latencies = defenders_run(fake, names, SCRIPT)
            stop()
            return elapsed, latencies, len(latencies)
        finally:
            fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defenders", type=int, default=20)
    parser.add_argument("--transport", choices=("unix", "tcp"), default="unix")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.defenders} defenders x {len(SCRIPT)} messages, transport {args.transport}")
    for kind in ("echo", "hrd-intake"):
        rates, p50s, p95s = [], [], []
        for _ in range(args.repeat):
            elapsed, latencies, count = run_once(kind, args.defenders, args.transport)
            rates.append(count / elapsed)
            latencies.sort()
            p50s.append(statistics.median(latencies) * 1000)
            p95s.append(latencies[int(len(latencies) * 0.95) - 1] * 1000)
        print(
            f"{kind:>10}: {max(rates):8.0f} msg/s (best of {args.repeat}), "
            f"latency p50 {min(p50s):6.1f} ms, p95 {min(p95s):6.1f} ms"
        )


if __name__ == "__main__":
    main()
