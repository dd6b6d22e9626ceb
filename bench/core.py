"""Inbound messages per second through the core, beside a bare durable SQLite insert.

The core path per message: dedupe record, conversation lookup by pseudonym,
data-key unwrap, state decrypt, flow step, state encrypt, update, commit on
SQLite (WAL, synchronous=FULL). Channels record a platform batch (Telegram
returns up to 100 updates) in one transaction, so the main figure uses
batches; the per-message-transaction figure is printed too.

Memory per open conversation: Python heap growth (tracemalloc) while a
further 2,000 conversations are opened and left mid-flow (beside the
10,000 already open), divided by their number. State lives in the database,
not in the process, so this is close to zero by design; bytes at rest per
conversation are printed beside it.

    .venv/bin/python bench/core.py [--conversations 10000] [--batch 100]
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from intake.config import load_settings
from intake.core import app, desks
from intake.messages import Inbound
from intake.storage.models import Conversation
from intake.storage.records import RecordCipher

# The first steps of a threat report: leaves every conversation open mid-flow.
SCRIPT: list[dict[str, str]] = [
    {"text": "/start"},
    {"choice": "threat_report"},
    {"choice": "yes"},
    {"text": "Kenya"},
    {"choice": "me"},
    {"text": "1, 2"},
    {"choice": "ongoing"},
]


def build(home: Path):  # type: ignore[no-untyped-def]
    env = {"HRD_INTAKE_HOME": str(home)}
    app.initialise(load_settings(env), demo=True)
    settings = load_settings(env)
    engine, sessions = desks.open_database(settings)
    cipher = RecordCipher(desks.open_keyring(settings))
    service, preparing = app.build_serving_service(settings, sessions, cipher)
    preparing.join()  # measure the service as it runs once started
    return settings, engine, sessions, service


def messages(conversations: int, prefix: str) -> list[Inbound]:
    out = []
    for step, answer in enumerate(SCRIPT):
        for n in range(conversations):
            out.append(
                Inbound(
                    channel="bench",
                    sender=f"{prefix}-{n}",
                    chat=f"{prefix}-{n}",
                    message_id=f"{prefix}-{n}-{step}",
                    **answer,  # type: ignore[arg-type]
                )
            )
    return out


def run_core(service, inbound: list[Inbound], batch: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(0, len(inbound), batch):
        service.handle_batch(inbound[i : i + batch])
    return len(inbound) / (time.perf_counter() - start)


def run_bare(path: Path, payload: bytes, count: int, batch: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    start = time.perf_counter()
    for i in range(0, count, batch):
        connection.execute("BEGIN")
        for _ in range(min(batch, count - i)):
            connection.execute("INSERT INTO t (data) VALUES (?)", (payload,))
        connection.execute("COMMIT")
    rate = count / (time.perf_counter() - start)
    connection.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--single", type=int, default=300, help="conversations for the per-message run"
    )
    parser.add_argument("--memory", type=int, default=2000, help="conversations for the memory run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        _, engine, sessions, service = build(Path(tmp) / "home")
        # Warm up imports, caches and the connection pool.
        run_core(service, messages(20, "warm"), args.batch)

        single = run_core(service, messages(args.single, "one"), 1)

        inbound = messages(args.conversations, "conv")
        batched = run_core(service, inbound, args.batch)

        # Memory on a further set, traced separately (tracing slows Python down).
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        run_core(service, messages(args.memory, "mem"), args.batch)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()

        with sessions() as session:
            open_count = session.scalar(select(func.count()).select_from(Conversation)) or 0
            at_rest = session.scalar(
                select(
                    func.avg(func.length(Conversation.state_ct) + func.length(Conversation.chat_ct))
                )
            )
            sample = session.scalar(select(Conversation.state_ct).limit(1)) or b""
        engine.dispose()

        bare_single = run_bare(Path(tmp) / "bare1.db", sample, 3000, 1)
        bare_batched = run_bare(Path(tmp) / "bare2.db", sample, len(inbound), args.batch)

    per_conversation = (after - before) / args.memory
    print(
        f"messages through the core:     {len(inbound):,} over {args.conversations:,} conversations"
    )
    print(f"core, batches of {args.batch:<4}         {batched:10,.0f} msg/s")
    print(f"core, one transaction each:    {single:10,.0f} msg/s")
    print(f"bare insert, commit each:      {bare_single:10,.0f} ins/s  ({len(sample)} bytes each)")
    print(f"bare insert, batches of {args.batch:<4}  {bare_batched:10,.0f} ins/s")
    print(f"bare (commit each) / core (batched): {bare_single / batched:5.2f}x")
    print(f"open conversations:            {open_count:,}")
    print(f"memory per open conversation:  {per_conversation / 1024:8.2f} KiB (Python heap growth)")
    print(f"at rest per conversation:      {at_rest:8.0f} bytes (state + chat ciphertext)")
    print(f"cpu: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
