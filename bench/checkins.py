"""10,000 safety check-ins due in the same minute: how long until all are asked, and all missed raised.

Check-ins are started through the real start path (`intake.core.checkins.Checkins.start`:
routing, the alert case sealed to the mission and recovery keys, the words
hashed; the word hash at a cheap cost, since it is not what is measured), on
conversations inserted directly. Then the scheduler (`CheckinScheduler`, as
`serve` runs it) runs in N worker processes at once, each with its own
keyring, connection pool and the same fixed clock:

1. at the due minute: time until every prompt is queued for delivery;
2. past the grace period: time until every missed check-in has its urgent
   case (case row, seals installed, sealed event, audit entry, notification).

Each figure is the wall time from the workers' common start to the last one
finding nothing due. SQLite runs one worker (one writer at a time anyway);
PostgreSQL runs one and two.

    .venv/bin/python bench/checkins.py [--checkins 10000] [--databases sqlite,postgresql]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--pg-workers 1,2] [--batch 200]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text

from flows import RoutingFacts, Submit, load_catalog
from intake.config import CheckinSettings, load_settings
from intake.core import app, desks
from intake.core.background import checkin_policy
from intake.core.checkin_scheduler import CheckinScheduler
from intake.core.drafts import Drafts
from intake.core.effects import EffectHandlers
from intake.keys.directory import KeyDirectory
from intake.keys.holders import new_mission_key
from intake.storage.conversation_record import Turn, new_record
from intake.storage.models import Case, Checkin, Conversation, Delivery

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=2, minutes=1)  # every check-in is due by then (started within a minute)
MISSED = DUE + timedelta(minutes=31)  # the 30-minute grace has passed for every prompt
CHEAP = CheckinSettings(word_memory_kib=64, word_iterations=1)
CHUNK = 500


def populate(env: dict[str, str], count: int) -> float:
    """Start `count` check-ins (interval 2 h), all within T0's minute; returns the seconds it took."""
    settings = load_settings(env).model_copy(update={"checkins": CHEAP})
    engine, sessions = desks.open_database(settings)
    cipher = desks.build_cipher(settings, sessions)
    with sessions.begin() as session:
        # so alerts are sealed to a mission key too
        new_mission_key(session, KeyDirectory(cipher.fresh_keyring()), "eu-del-ke", T0)
    started = time.time()
    made = 0
    moment = {"now": T0}
    catalog = load_catalog()
    drafts = Drafts(
        cipher,
        app.build_flow_engine(settings, catalog),
        catalog,
        "en",
        timedelta(hours=settings.draft_idle_hours),
        {},
    )
    effects = EffectHandlers(
        cipher,
        catalog,
        settings.routing,
        {"telegram": "-1001"},
        lambda: moment["now"],
        drafts,
        audited=lambda _n: None,
        checkin_policy=checkin_policy(settings),
    )
    while made < count:
        n = min(CHUNK, count - made)
        with sessions.begin() as session:
            rows, keys = [], []
            for _ in range(n):
                record_id = secrets.token_hex(16)
                dek, wrapped, version = cipher.new_key("conversation", record_id)
                keys.append(dek)
                rows.append(
                    {
                        "id": record_id,
                        "channel": "bench",
                        "sender_pseudonym": secrets.token_hex(32),
                        "pseudonym_version": 1,
                        "dek_wrapped": wrapped,
                        "kek_version": version,
                        "chat_ct": cipher.seal(dek, "conversation", record_id, "chat", b"4242"),
                        "state_ct": b"",
                        "created_at": T0,
                        "last_seen_at": T0,
                    }
                )
            session.execute(insert(Conversation), rows)
            for i, (row, dek) in enumerate(zip(rows, keys, strict=True)):
                moment["now"] = T0 + timedelta(seconds=59 * (made + i) / count)
                conversation = session.get(Conversation, row["id"])
                assert conversation is not None
                turn = Turn(conversation, dek, new_record({"lang": "en"}))
                effect = Submit(
                    flow="safety_checkin",
                    answers={
                        "consent_store": "yes",
                        "destination": "A hearing at the district court",
                        "alert_contacts": "The lawyer",
                        "country": "KE",
                        "schedule": "interval",
                        "every": "h2",
                        "usage": "confidential",
                        "checkin_word": f"word{i}",
                        "duress_word": f"duress{i}",
                    },
                    routing=RoutingFacts(kind="missed_checkin", country="KE", category=(), urgency=None),
                    language="en",
                )
                effects.checkins.start(session, turn, effect)
        made += n
    elapsed = time.time() - started
    engine.dispose()
    return elapsed


def worker(env: dict[str, str], moment: datetime, batch: int, barrier: Any, results: Any) -> None:
    settings = load_settings(env)
    engine, sessions = desks.open_database(settings)
    scheduler = CheckinScheduler(
        sessions,
        desks.build_cipher(settings, sessions),
        load_catalog(),
        lambda: moment,
        grace=timedelta(minutes=settings.checkins.grace_minutes),
        notify={"telegram": "-1001"},
        batch=batch,
        audit_checkpoint=settings.audit_checkpoint,
    )
    with sessions() as session:  # connections and caches warm
        session.execute(text("select 1"))
    barrier.wait()
    start = time.time()
    done = scheduler.run_until_idle()
    results.put((done.prompted, done.alerted, start, time.time()))
    engine.dispose()


def phase(env: dict[str, str], workers: int, moment: datetime, batch: int) -> tuple[int, int, float]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(env, moment, batch, barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    done = [results.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join(60)
        if process.exitcode != 0:
            raise SystemExit(f"a worker failed (exit code {process.exitcode})")
    elapsed = max(end for *_, end in done) - min(start for *_, start, _ in done)
    return sum(d[0] for d in done), sum(d[1] for d in done), elapsed


def counts(env: dict[str, str]) -> tuple[int, int, int]:
    settings = load_settings(env)
    engine, sessions = desks.open_database(settings)
    with sessions() as session:
        prompts = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.kind == "checkin")
        )
        cases = session.scalar(
            select(func.count()).select_from(Case).where(Case.kind == "missed_checkin")
        )
        running = session.scalar(select(func.count()).select_from(Checkin))
    engine.dispose()
    return int(prompts or 0), int(cases or 0), int(running or 0)


def run(label: str, env: dict[str, str], count: int, workers: int, batch: int) -> None:
    app.initialise(load_settings(env), demo=True)
    made = populate(env, count)
    asked, _, ask_time = phase(env, workers, DUE, batch)
    _, raised, raise_time = phase(env, workers, MISSED, batch)
    prompts, cases, running = counts(env)
    assert asked == prompts == count, (asked, prompts)
    assert raised == cases == count == running, (raised, cases, running)
    print(
        f"{label}, {workers} worker{'s' if workers > 1 else ' '}: {count:,} due in one minute: "
        f"all asked in {ask_time:6.1f} s ({count / ask_time:6,.0f}/s), "
        f"all missed raised in {raise_time:6.1f} s ({count / raise_time:5,.0f}/s) "
        f"[starting them took {made:.0f} s]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-workers", default="1,2")
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    databases = args.databases.split(",")
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"HRD_INTAKE_HOME": str(Path(tmp) / "home"), "HRD_INTAKE_LOG_LEVEL": "WARNING"}
            run("SQLite (WAL, synchronous=FULL)", env, args.checkins, 1, args.batch)
    if "postgresql" in databases:
        admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        for workers in (int(w) for w in args.pg_workers.split(",")):
            schema = f"hrd_bench_{secrets.token_hex(4)}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    env = {
                        "HRD_INTAKE_HOME": str(Path(tmp) / "home"),
                        "HRD_INTAKE_DATABASE_URL": f"{args.url}?options=-csearch_path%3D{schema}",
                        "HRD_INTAKE_LOG_LEVEL": "WARNING",
                    }
                    run(f"PostgreSQL {version}", env, args.checkins, workers, args.batch)
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"batches of {args.batch}; cpu: {os.cpu_count()} cores, shared with the database server")


if __name__ == "__main__":
    main()
