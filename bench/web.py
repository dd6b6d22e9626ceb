"""The officers' web console at 100,000 cases over 150 missions: queue and case page latency.

    .venv/bin/python bench/web.py [--cases 100000] [--missions 150] [--requests 200]

A real embedded setup (keyring, migrated SQLite, demo missions, recovery key),
150 more missions, and bulk cases spread over them (random bytes stand in for
sealed payloads: listing never reads them), three audit entries each. One real
case, submitted through the conversation service and sealed to the officer's
mission, with notes and replies on it, is the case page. The console is served
by uvicorn on 127.0.0.1 and asked over HTTP (httpx) by a logged-in officer
(passphrase + TOTP), so a figure includes the ASGI stack, the session check,
templates and the CSP middleware. Beside it, `hrd-intake queue list` for the
same page (the whole process: start-up, imports, query, table), as an officer
would run it. Prints p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert

from intake.storage.models import AuditEntry, Case, Mission
from tests.conftest import CHEAP_KDF
from tests.support.browser import free_port, served
from tests.support.defender import threat_report
from tests.support.keys import submit
from tests.support.setup import embedded_setup
from tests.support.web import csrf, enrol_totp, web_world

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ["new", "acknowledged", "in_progress", "awaiting_defender", "escalated", "closed"]
URGENCIES = ["immediate", "days", "not_urgent"]


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(action, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return percentiles(times)


def fill(sessions, missions: list[str], cases: int, rng: random.Random, now) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    seq = 1_000_000
    batch: list[dict[str, object]] = []
    entries: list[dict[str, object]] = []
    for n in range(cases):
        urgency = rng.choice(URGENCIES)
        reference = f"HRD-B{n:07d}"
        batch.append(
            {
                "id": os.urandom(16).hex(),
                "reference": reference,
                "mission_id": rng.choice(missions),
                "kind": rng.choice(["threat_report", "assistance_request"]),
                "urgency": urgency,
                "urgency_rank": URGENCIES.index(urgency),
                "status": rng.choice(STATUSES),
                "flagged": False,
                "claimed_by": None,
                "submitted_at": now - timedelta(minutes=rng.randrange(500_000)),
                "updated_at": now,
                "country": rng.choice(["KE", "UA", "GE", "CO", "PH"]),
                "answered_at": None,
                "dek_wrapped": None,
                "kek_version": None,
                "payload_ct": os.urandom(900),
            }
        )
        for action in ("case.submitted", "case.ack", "case.open"):
            seq += 1
            entries.append(
                {
                    "seq": seq,
                    "at": now,
                    "actor": "service",
                    "action": action,
                    "subject": reference,
                    "detail": {},
                    "prev_hash": "0" * 64,
                    "hash": "0" * 64,
                }
            )
        if len(batch) == 5000:
            with sessions.begin() as session:
                session.execute(insert(Case), batch)
                session.execute(insert(AuditEntry), entries)
            batch, entries = [], []
    if batch:
        with sessions.begin() as session:
            session.execute(insert(Case), batch)
            session.execute(insert(AuditEntry), entries)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--missions", type=int, default=150)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(7)  # synthetic data, not security

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        with embedded_setup(Path(tmp) / "home", url, CHEAP_KDF) as setup:
            # Audit entries of the bulk cases sit after (above) the real chain's.
            world = web_world(setup)
            _, reference = submit(
                setup, threat_report("Kenya", details="What happened, at length. " * 20)
            )
            now = setup.clock()
            missions = [f"m{n:03d}" for n in range(args.missions - 1)]
            with setup.sessions.begin() as session:
                session.execute(
                    insert(Mission),
                    [
                        {
                            "id": m,
                            "name": m,
                            "kind": "delegation",
                            "countries": [],
                            "languages": [],
                            "updated_at": now,
                        }
                        for m in missions
                    ],
                )
            filled = fill(setup.sessions, [*missions, "eu-del-ke"], args.cases, rng, now)
            port = free_port()
            with served(world.app, port) as base, httpx.Client(base_url=base) as client:
                enrol_totp(world, client, "ana")  # type: ignore[arg-type]
                token = csrf(client.get(f"/cases/{reference}").text)
                for n in range(5):
                    client.post(
                        f"/cases/{reference}/note", data={"csrf": token, "text": f"note {n}"}
                    )
                    client.post(
                        f"/cases/{reference}/reply", data={"csrf": token, "text": f"reply {n}"}
                    )
                shown = client.get("/queue")
                assert shown.status_code == 200 and "HRD-B" in shown.text, shown.status_code
                queue = timed(lambda: client.get("/queue").raise_for_status(), args.requests)
                filtered = timed(
                    lambda: client.get("/queue", params={"state": "new"}).raise_for_status(),
                    args.requests,
                )
                case = timed(
                    lambda: client.get(f"/cases/{reference}").raise_for_status(), args.requests // 2
                )
            env = {
                **os.environ,
                **setup.env,
                "HRD_INTAKE_OFFICER": world.officers["ana"],
                "PYTHONPATH": str(ROOT),
            }
            cli = [sys.executable, "-m", "intake", "queue", "list", "--limit", "50"]
            subprocess.run(cli, env=env, check=True, capture_output=True)  # warm the caches
            cli_times = timed(
                lambda: subprocess.run(cli, env=env, check=True, capture_output=True),
                args.cli_runs,
            )

    print(
        f"{args.cases:,} cases over {args.missions} missions on SQLite (filled in {filled:.1f} s)"
    )
    print(
        f"web queue page (50 rows, own mission):     p50 {queue[0]:6.1f} ms   p99 {queue[1]:6.1f} ms"
    )
    print(
        f"web queue page, filtered by state:         p50 {filtered[0]:6.1f} ms   p99 {filtered[1]:6.1f} ms"
    )
    print(
        f"web case page (decrypt, render, timeline): p50 {case[0]:6.1f} ms   p99 {case[1]:6.1f} ms"
    )
    print(
        f"CLI queue list, same page (whole process): p50 {cli_times[0]:6.1f} ms   p99 {cli_times[1]:6.1f} ms"
    )


if __name__ == "__main__":
    main()
