"""Races between real processes on one PostgreSQL database.

Two officers' processes claim the same 200 cases at the same moment; three
channel workers drain the same 1,000 queued replies; three containers
migrate the same empty database as they start. Each worker is a
separate Python process (`tests.support.workers`) running the code the CLI
and the channels run, so locks, snapshots and transactions are PostgreSQL's
own, not threads sharing an interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from intake.storage import audit, migrate
from intake.storage.deliveries import queue_delivery
from intake.storage.engine import make_engine
from intake.storage.models import Case, Delivery
from tests.support.officers import enrol
from tests.support.setup import Setup

pytestmark = pytest.mark.slow


def run_workers(setup: Setup, tmp_path: Path, jobs: list[tuple[str, str]]) -> list[Path]:
    """Start one worker per (command, subject), let them go together, wait; their output files."""
    go = tmp_path / "go"
    outs = [tmp_path / f"worker-{n}.out" for n in range(len(jobs))]
    env = os.environ | setup.env
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.workers", command, subject, str(out), str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for (command, subject), out in zip(jobs, outs, strict=True)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(out.with_suffix(".ready").exists() for out in outs):
            assert all(p.poll() is None for p in processes), "a worker died while starting"
            assert time.monotonic() < deadline, "workers never got ready"
            time.sleep(0.02)
        go.touch()
        for process in processes:
            _, errors = process.communicate(timeout=180)
            assert process.returncode == 0, errors
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return outs


def test_two_processes_claiming_200_cases_claim_each_once(
    postgres_setup: Setup, tmp_path: Path
) -> None:
    setup = postgres_setup
    # Given 200 new cases in one mission and two of its officers,
    now = setup.clock()
    references = [f"HRD-{n:04d}-RACE" for n in range(200)]
    with setup.sessions.begin() as session:
        session.execute(
            insert(Case),
            [
                {
                    "id": f"race{n:028d}",
                    "reference": reference,
                    "mission_id": "eu-del-ke",
                    "kind": "threat_report",
                    "urgency": "days",
                    "urgency_rank": 1,
                    "status": "new",
                    "flagged": False,
                    "claimed_by": None,
                    "submitted_at": now - timedelta(minutes=n),
                    "updated_at": now,
                    "dek_wrapped": None,
                    "kek_version": None,
                    "payload_ct": b"sealed elsewhere",
                }
                for n, reference in enumerate(references)
            ],
        )
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    ben, _ = enrol(setup, "eu-del-ke", "Ben", unlock=ana_keys)

    # when each claims every case at the same moment, one from each end of the queue
    # (claims of different cases commit at once; they meet in the middle),
    outs = run_workers(setup, tmp_path, [("claims", ana), ("claims", f"{ben}:desc")])

    # then each case was claimed by exactly one of them, the other refused,
    outcomes = [dict(line.split() for line in out.read_text().splitlines()) for out in outs]
    claimed = [{ref for ref, outcome in o.items() if outcome == "claimed"} for o in outcomes]
    assert all(set(o) == set(references) for o in outcomes)
    assert claimed[0] | claimed[1] == set(references)
    assert claimed[0] & claimed[1] == set()
    assert claimed[0] and claimed[1], "no contention: one worker finished before the other began"
    with setup.sessions() as session:
        holders = dict(session.execute(select(Case.reference, Case.claimed_by)).all())
        assert {ref for ref, who in holders.items() if who == ana} == claimed[0]
        assert {ref for ref, who in holders.items() if who == ben} == claimed[1]
        # and the audit chain has one entry per claim, unforked.
        head = audit.verify(session, audit.read_checkpoint(setup.settings.audit_checkpoint))
        claims = [e for e in audit.list_entries(session, limit=1000) if e.action == "case.claim"]
        assert len(claims) == 200 and head.count >= 200


def test_three_workers_deliver_1000_replies_each_once(
    postgres_setup: Setup, tmp_path: Path
) -> None:
    setup = postgres_setup
    # Given 1,000 replies queued for one channel,
    with setup.sessions.begin() as session:
        for n in range(1000):
            queue_delivery(
                session,
                setup.cipher,
                channel="race",
                kind="reply",
                chat=f"chat-{n % 37}",
                text=f"reply {n}",
                conversation_id=None,
                now=setup.clock() + timedelta(microseconds=n),
            )

    # when three workers drain the queue at the same time,
    outs = run_workers(setup, tmp_path, [("deliveries", "race")] * 3)

    # then every reply was sent exactly once, and each worker took a share.
    sent = [line.split(" ", 1) for out in outs for line in out.read_text().splitlines()]
    texts = Counter(text for _, text in sent)
    assert len(sent) == 1000
    assert set(texts) == {f"reply {n}" for n in range(1000)}
    assert set(texts.values()) == {1}
    assert all(out.read_text() for out in outs), "a worker sent nothing: no contention"
    with setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_three_processes_migrating_at_once_all_succeed(pg_url: str, tmp_path: Path) -> None:
    # Containers start together and each runs `db upgrade` before `serve`.
    env = os.environ | {"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_DATABASE_URL": pg_url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "intake", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        out, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
        assert f"database at revision {migrate.head_revision()}" in out
    engine = make_engine(pg_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
