"""Updates per second and latency through the Telegram channel, beside a bare PTB echo bot.

Both bots run in this process against the same fake Bot API server on
127.0.0.1 (tests/support/fake_telegram.py), one after the other, with the
same closed-loop load: `--users` defenders write at once, each sending its
next message as soon as the bot has answered the previous one (first reply
in the chat, and the update acknowledged).

- echo: python-telegram-bot's `Application` with one `MessageHandler` that
  replies with the text (its Updater polls; handlers run one at a time).
- hrd-intake: `bots.telegram.channel` on the full stack: durable batch in the core
  (SQLite, WAL, synchronous=FULL, encryption, flow engine), replies with
  keyboards, wipes after submission, sent ids recorded, acknowledgement
  after all that. Each defender files a whole threat report (14 messages,
  typed answers), so every run creates `--users` cases.

Latency is from the injection of an update to the bot's first reply in
that chat. The per-sender rate limit is lifted (scripted users type faster
than people).

    .venv/bin/python bench/telegram.py [--users 50] [--rounds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path, where this
# module's own name would shadow the `telegram` library: put the repository there.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bots.ratelimit import RateLimiter  # noqa: E402
from bots.telegram.channel import build_telegram  # noqa: E402
from intake.config import TelegramSettings, load_settings  # noqa: E402
from intake.core import app, desks  # noqa: E402
from intake.storage.records import RecordCipher  # noqa: E402
from tests.support.defender import numbered_threat_report  # noqa: E402
from tests.support.fake_telegram import FakeTelegram  # noqa: E402

TOKEN = "123:ABC"  # noqa: S105 - the fake server's
DETAILS, CONTACT = "They followed me home after the hearing.", "Signal, evenings"
SCRIPT = ["/start", *numbered_threat_report(DETAILS, CONTACT)]


class TimedFake(FakeTelegram):
    """The fake server, noting when the bot wrote to each chat, and waking waiters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sends: dict[int, list[float]] = {}

    def _send(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        sent = super()._send(kind, p)
        self.sends.setdefault(p["chat_id"], []).append(time.perf_counter())
        self._cond.notify_all()
        return sent

    def _get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(p.get("offset", 0))
        if offset > self._confirmed_offset:  # acknowledged: wake the defenders waiting on it
            self._confirmed_offset = offset
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._cond.notify_all()
        return super()._get_updates(p)

    def answered(self, chat: int, since: float, update_id: int, timeout: float = 60) -> float:
        """Wait for a reply in `chat` after `since` and the update acknowledged; the reply time."""

        def first_reply() -> float | None:
            if self._confirmed_offset <= update_id:
                return None
            return next((t for t in self.sends.get(chat, ()) if t > since), None)

        with self._cond:
            if not self._cond.wait_for(lambda: first_reply() is not None, timeout):
                raise TimeoutError(f"chat {chat}: no answer to update {update_id}")
            reply = first_reply()
            assert reply is not None
            return reply


Run = tuple[float, float, list[float]]  # elapsed s, process CPU s, latencies s


def drive(tg: TimedFake, users: int, rounds: int, first_user: int) -> Run:
    """Run the closed-loop load."""
    latencies: list[float] = []
    lock = threading.Lock()

    def defender(user: int) -> None:
        mine: list[float] = []
        for _ in range(rounds):
            for text in SCRIPT:
                start = time.perf_counter()
                update_id = tg.inject_message(user, user, text)
                mine.append(tg.answered(user, start, update_id) - start)
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=defender, args=(first_user + n,), daemon=True) for n in range(users)
    ]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, time.process_time() - cpu, latencies


def in_thread(
    body: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
) -> tuple[threading.Thread, Callable[[], None]]:
    """Run `body(stop)` in an event loop of its own; returns the thread and a stopper."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await body(holder["stop"])

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    ready.wait(10)

    def stop() -> None:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(30)

    return thread, stop


def run_echo(tg: TimedFake, users: int, rounds: int) -> Run:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    async def body(stop: asyncio.Event) -> None:
        application = (
            Application.builder()
            .token(TOKEN)
            .base_url(tg.base_url)
            .base_file_url(tg.base_file_url)
            .build()
        )
        application.add_handler(MessageHandler(filters.TEXT, echo))
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0.0, timeout=10)
            await stop.wait()
            await application.updater.stop()
            await application.stop()

    _, stop = in_thread(body)
    try:
        return drive(tg, users, rounds, first_user=10_000)
    finally:
        stop()


def run_intake(tg: TimedFake, home: Path, users: int, rounds: int) -> Run:
    env = {"HRD_INTAKE_HOME": str(home)}
    app.initialise(load_settings(env), demo=True)
    settings = load_settings(env)
    settings = settings.model_copy(
        update={"telegram": TelegramSettings(token=TOKEN, api_url=tg.api_root)}  # type: ignore[arg-type]
    )
    engine, sessions = desks.open_database(settings)
    cipher = RecordCipher(desks.open_keyring(settings))
    service, preparing = app.build_serving_service(settings, sessions, cipher)
    preparing.join()  # measure the service as it runs once started
    limiter = RateLimiter(burst=1_000_000, per_minute=1_000_000)
    channel = build_telegram(settings, service, limiter=limiter, poll_timeout=10)

    _, stop = in_thread(channel.run)
    try:
        return drive(tg, users, rounds, first_user=20_000)
    finally:
        stop()
        engine.dispose()


def summary(updates: int, runs: list[Run]) -> tuple[float, float, float, float]:
    """Median throughput and CPU ms per update over the runs; p50/p99 latency (ms) overall."""
    rate = statistics.median(updates / elapsed for elapsed, _, _ in runs)
    cpu = statistics.median(cpu / updates for _, cpu, _ in runs) * 1000
    ordered = sorted(latency for _, _, latencies in runs for latency in latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return rate, cpu, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="defenders writing at once")
    parser.add_argument("--rounds", type=int, default=2, help="threat reports per defender")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each bot, interleaved (median taken)"
    )
    args = parser.parse_args()
    updates = args.users * args.rounds * len(SCRIPT)

    echo_runs: list[Run] = []
    ours_runs: list[Run] = []
    with TimedFake(token=TOKEN) as tg, tempfile.TemporaryDirectory() as tmp:
        # Warm up both stacks (imports, connection pools, first SQLite pages).
        run_echo(tg, 2, 1)
        run_intake(tg, Path(tmp) / "warm", 2, 1)
        for n in range(args.repeat):  # interleaved: a busy machine slows both alike
            echo_runs.append(run_echo(tg, args.users, args.rounds))
            ours_runs.append(run_intake(tg, Path(tmp) / f"run{n}", args.users, args.rounds))
        assert not tg.errors, tg.errors

    print(
        f"{args.users} defenders at once, {args.rounds} threat report(s) of {len(SCRIPT)} "
        f"messages each = {updates:,} updates a run; {args.repeat} runs of each bot, "
        f"interleaved; cpu: {os.cpu_count()} cores"
    )
    rates = {}
    for name, runs in (("PTB echo", echo_runs), ("hrd-intake", ours_runs)):
        rate, cpu, p50, p99 = summary(updates, runs)
        rates[name] = rate
        each = ", ".join(f"{updates / elapsed:,.0f}" for elapsed, _, _ in runs)
        print(
            f"{name:<11} {rate:7,.0f} upd/s (median of {each})   "
            f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   cpu {cpu:4.2f} ms/update"
        )
    print(f"hrd-intake / echo throughput: {rates['hrd-intake'] / rates['PTB echo']:.2f}")


if __name__ == "__main__":
    main()
