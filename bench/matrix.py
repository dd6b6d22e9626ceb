"""The Matrix channel through a real Synapse, beside a bare matrix-nio echo bot.

Both bots run as their own processes against the same local Synapse (SQLite,
as the test harness starts it), both in end-to-end encrypted rooms with one
defender client (matrix-nio, own store) in this process:

- hrd-intake: `python -m intake serve` with the Matrix channel (embedded
  SQLite setup, WAL, synchronous=FULL): every message is decrypted, recorded
  durably by the core, answered (encrypted) and the sync token saved.
- echo: a bare nio client that decrypts a text and sends it back (no storage,
  no durability; it does retry messages whose room key came late, and syncs
  with a wide timeline limit, or it would lose messages in a burst).

Latency: the defender sends one message and waits for the answer (send call
to the answer's arrival in the defender's sync), `--messages` times.
Throughput: the defender sends `--burst` messages back to back and we time
until every answer has arrived. The defender sends "/help" to hrd-intake (one
answer per message; the conversation state is read and written each time).

    .venv/bin/python bench/matrix.py [--messages 200] [--burst 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nio

from crypto import KdfParams
from intake.config import load_settings
from intake.core import app
from tests.support.matrix_sync import DecryptingSync, Synced
from tests.support.synapse import Synapse, default_venv_dir, ensure_synapse_venv

# One random password for the run's accounts; the echo bot process reads it from here.
SECRET_VAR = "BENCH_MATRIX_" + "PASSWORD"


# -- the bare echo bot (run as `bench/matrix.py --echo HOMESERVER USER STORE`) --------


async def echo_bot(homeserver: str, user: str, store: str) -> None:
    Path(store).mkdir(parents=True, exist_ok=True)
    config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
    client = nio.AsyncClient(homeserver, user, store_path=store, config=config)
    await client.login(os.environ[SECRET_VAR], device_name="echo")

    async def on_invite(room: nio.MatrixRoom, event: nio.InviteMemberEvent) -> None:
        await client.join(room.room_id)

    async def echo(room_id: str, event: nio.RoomMessageText) -> None:
        if event.sender != client.user_id and event.decrypted:
            await client.room_send(
                room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": event.body},
                ignore_unverified_devices=True,
            )

    async def on_text(room: nio.MatrixRoom, event: nio.RoomMessageText) -> None:
        await echo(room.room_id, event)

    # A room key may arrive a sync after its message: keep those and retry
    # (without this even a bare bot silently loses messages).
    undecrypted: list[tuple[str, nio.MegolmEvent]] = []

    async def on_undecrypted(room: nio.MatrixRoom, event: nio.MegolmEvent) -> None:
        undecrypted.append((room.room_id, event))

    async def after_sync(response: nio.SyncResponse) -> None:
        waiting = list(undecrypted)
        undecrypted.clear()
        for room_id, event in waiting:
            try:
                decrypted = client.decrypt_event(event)
            except nio.EncryptionError:
                undecrypted.append((room_id, event))
                continue
            if isinstance(decrypted, nio.RoomMessageText):
                await echo(room_id, decrypted)

    client.add_event_callback(on_invite, nio.InviteMemberEvent)
    client.add_event_callback(on_text, nio.RoomMessageText)
    client.add_event_callback(on_undecrypted, nio.MegolmEvent)
    client.add_response_callback(after_sync, nio.SyncResponse)
    # sync_forever does not page back over a limited timeline: with the
    # server's default limit (10 events) a burst loses messages. A wide limit
    # keeps the comparison about speed.
    wide = {"room": {"timeline": {"limit": 1000}}}
    await client.sync_forever(timeout=30_000, full_state=True, sync_filter=wide)


# -- the defender -------------------------------------------------------------------


class Defender:
    """Sends in a room and timestamps the other side's answers as its sync sees them."""

    def __init__(self, homeserver: str, user: str, password: str, store: Path) -> None:
        self.password = password
        store.mkdir(parents=True, exist_ok=True)
        config = nio.AsyncClientConfig(encryption_enabled=True)
        self.client = nio.AsyncClient(homeserver, user, store_path=str(store), config=config)
        self.arrivals: dict[str, list[float]] = {}
        self._inbox = DecryptingSync(self.client)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.login(self.password, device_name="defender")
        await self._sync(0, full_state=True)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.client.close()

    async def _loop(self) -> None:
        while True:
            await self._sync(30_000)

    async def _sync(self, timeout: int, full_state: bool = False) -> None:
        synced = await self._inbox.sync(timeout, full_state=full_state)
        if not isinstance(synced, Synced):
            await asyncio.sleep(0.5)
            return
        for room_id, event in synced.events:
            if isinstance(event, nio.RoomMessage):
                self.arrivals.setdefault(room_id, []).append(synced.at)

    async def open_room(self, bot: str) -> str:
        created = await self.client.room_create(
            is_direct=True,
            invite=[bot],
            preset=nio.RoomPreset.trusted_private_chat,
            initial_state=[nio.EnableEncryptionBuilder().as_dict()],
        )
        assert isinstance(created, nio.RoomCreateResponse), created
        for _ in range(300):
            room = self.client.rooms.get(created.room_id)
            if (
                room
                and bot in room.users
                and list(self.client.device_store.active_user_devices(bot))
            ):
                return str(created.room_id)
            await asyncio.sleep(0.1)
        raise RuntimeError("the bot never joined")

    async def send(self, room_id: str, text: str) -> None:
        response = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(response, nio.RoomSendResponse), response

    async def wait_answers(self, room_id: str, count: int, timeout: float = 120) -> float:
        deadline = time.perf_counter() + timeout
        while len(self.arrivals.get(room_id, [])) < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"only {len(self.arrivals.get(room_id, []))}/{count} answers"
                    f" ({self._inbox.undecrypted} undecrypted)"
                )
            await asyncio.sleep(0.002)
        return self.arrivals[room_id][count - 1]


async def measure(
    defender: Defender, room: str, text: str, messages: int, burst: int
) -> dict[str, float]:
    answered = len(defender.arrivals.get(room, []))
    for _ in range(3):  # warm-up: sessions shared, keys known
        await defender.send(room, text)
        answered += 1
        await defender.wait_answers(room, answered)
    latencies = []
    for _ in range(messages):
        start = time.perf_counter()
        await defender.send(room, text)
        answered += 1
        latencies.append(await defender.wait_answers(room, answered) - start)
    start = time.perf_counter()
    for _ in range(burst):
        await defender.send(room, text)
    answered += burst
    elapsed = await defender.wait_answers(room, answered, timeout=300) - start
    latencies.sort()
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "seq_per_s": messages / sum(latencies),
        "burst_per_s": burst / elapsed,
    }


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


async def run(messages: int, burst: int) -> None:
    python = ensure_synapse_venv(default_venv_dir())
    work = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
    password = secrets.token_urlsafe(16)
    with Synapse(python, workdir=work / "synapse") as synapse:
        tag = secrets.token_hex(3)
        bot, _ = synapse.register(f"intake-{tag}", password)
        echo, _ = synapse.register(f"echo-{tag}", password)
        user, _ = synapse.register(f"defender-{tag}", password)

        home = work / "home"
        env = {
            **os.environ,
            "HRD_INTAKE_HOME": str(home),
            "HRD_INTAKE_MATRIX_HOMESERVER": synapse.base_url,
            "HRD_INTAKE_MATRIX_USER": bot,
            "HRD_INTAKE_MATRIX_PASSWORD": password,
            SECRET_VAR: password,
            "HRD_INTAKE_MATRIX_STORE": str(work / "intake-store"),
        }
        app.initialise(
            load_settings(env), demo=True, kdf=KdfParams(memory_kib=1024, iterations=1, lanes=1)
        )
        processes = [
            _spawn([sys.executable, "-m", "intake", "serve"], env, work / "intake.out"),
            _spawn(
                [
                    sys.executable,
                    __file__,
                    "--echo",
                    synapse.base_url,
                    echo,
                    str(work / "echo-store"),
                ],
                env,
                work / "echo.out",
            ),
        ]
        defender = Defender(synapse.base_url, user, password, work / "defender-store")
        try:
            await defender.start()
            results = {}
            for name, account, text in (
                ("echo (bare nio)", echo, "ping"),
                ("hrd-intake", bot, "/help"),
            ):
                room = await defender.open_room(account)
                results[name] = await measure(defender, room, text, messages, burst)
        finally:
            await defender.stop()
            for process in processes:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    print(
        f"Matrix end to end through Synapse (E2EE rooms), {messages} sequential + {burst} burst messages"
    )
    print(f"{'bot':<16} {'p50 ms':>8} {'p99 ms':>8} {'seq msg/s':>10} {'burst msg/s':>12}")
    for name, r in results.items():
        print(
            f"{name:<16} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['seq_per_s']:10.1f} {r['burst_per_s']:12.1f}"
        )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--echo":
        asyncio.run(echo_bot(*sys.argv[2:5]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.burst))


if __name__ == "__main__":
    main()
