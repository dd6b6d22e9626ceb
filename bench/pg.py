"""Core messages per second on PostgreSQL with 1, 2 and 4 worker processes.

Each worker is its own process with its own service instance (keyring,
connection pool, flow engine), as several `serve` processes sharing one
database would be; each drives its own conversations, in batches of 100
messages (a Telegram getUpdates batch), one transaction per batch, durable
(synchronous_commit as the server has it). The per-message path is the core
bench's (`bench/core.py`): dedupe record, conversation lookup by pseudonym,
data-key unwrap, state decrypt, flow step, state encrypt, update, commit.
All workers start together (a barrier); the figure is all their messages
over the wall time from the first start to the last finish.

It creates a schema of its own in the database, and drops it at the end.

    .venv/bin/python bench/pg.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                 [--workers 1,2,4] [--conversations 1000] [--batch 100]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from intake.config import load_settings
from intake.core import app, desks
from intake.messages import Inbound

# The first steps of a threat report (as bench/core.py): conversations stay open mid-flow.
SCRIPT: list[dict[str, str]] = [
    {"text": "/start"},
    {"choice": "threat_report"},
    {"choice": "yes"},
    {"text": "Kenya"},
    {"choice": "me"},
    {"text": "1, 2"},
    {"choice": "ongoing"},
]


def messages(conversations: int, prefix: str) -> list[Inbound]:
    """Step by step across conversations: a batch holds many defenders, as a platform's does."""
    return [
        Inbound(
            channel="bench",
            sender=f"{prefix}-{n}",
            chat=f"{prefix}-{n}",
            message_id=f"{prefix}-{n}-{step}",
            **answer,  # type: ignore[arg-type]
        )
        for step, answer in enumerate(SCRIPT)
        for n in range(conversations)
    ]


def worker(
    env: dict[str, str],
    prefix: str,
    conversations: int,
    batch: int,
    barrier: Any,
    results: Any,
) -> None:
    settings = load_settings(env)
    engine, sessions = desks.open_database(settings)
    service = app.build_service(settings, sessions, desks.build_cipher(settings, sessions))
    service.handle_batch(messages(10, f"{prefix}-warm"))  # imports, caches, connections
    inbound = messages(conversations, prefix)
    barrier.wait()
    start = time.time()
    for i in range(0, len(inbound), batch):
        service.handle_batch(inbound[i : i + batch])
    results.put((len(inbound), start, time.time()))
    engine.dispose()


def run(env: dict[str, str], workers: int, conversations: int, batch: int) -> tuple[int, float]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(env, f"w{workers}-{n}", conversations, batch, barrier, results),
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    done = [results.get(timeout=900) for _ in processes]
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed (exit code {process.exitcode})")
    total = sum(count for count, _, _ in done)
    elapsed = max(end for _, _, end in done) - min(start for _, start, _ in done)
    return total, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--conversations", type=int, default=1000, help="per worker")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    schema = f"hrd_bench_{secrets.token_hex(4)}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        version = connection.execute(text("SHOW server_version")).scalar()
        synchronous = connection.execute(text("SHOW synchronous_commit")).scalar()
        fsync = connection.execute(text("SHOW fsync")).scalar()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "HRD_INTAKE_HOME": str(Path(tmp) / "home"),
                "HRD_INTAKE_DATABASE_URL": f"{args.url}?options=-csearch_path%3D{schema}",
                "HRD_INTAKE_LOG_LEVEL": "WARNING",
            }
            app.initialise(load_settings(env), demo=True)
            figures = []
            for workers in (int(w) for w in args.workers.split(",")):
                total, elapsed = run(env, workers, args.conversations, args.batch)
                figures.append((workers, total, elapsed))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    print(
        f"PostgreSQL {version} (synchronous_commit={synchronous}, fsync={fsync}), "
        f"batches of {args.batch}, {args.conversations:,} conversations x {len(SCRIPT)} "
        "messages per worker"
    )
    base = figures[0][1] / figures[0][2]
    for workers, total, elapsed in figures:
        rate = total / elapsed
        print(
            f"{workers} worker process{'es' if workers > 1 else '  '}: {rate:8,.0f} msg/s "
            f"({total:,} messages in {elapsed:5.1f} s; {rate / base:4.2f}x one worker)"
        )
    print(f"cpu: {os.cpu_count()} cores, shared with the PostgreSQL server")


if __name__ == "__main__":
    main()
