"""Queue listing at 100,000 cases across 150 missions, and seal + open time per case.

    .venv/bin/python bench/triage.py [--cases 100000] [--missions 150] [--database-url URL]

Cases are inserted directly (random bytes stand in for their sealed payload:
listing never reads it). Listing times one page (50 rows) of an officer's
mission queue, of the operator's all-missions queue and of a status filter,
each the median of 20 runs. Seal: a case data key sealed to a mission key
and the recovery key (two HPKE encryptions). Open: an officer opening it
(mission key from its seal, then the case key: two HPKE decryptions), after
the passphrase unlock, which is timed on its own (Argon2id, 64 MiB).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from crypto import DEFAULT_ALGORITHM, KdfParams, new_data_key
from intake.keys.holders import register_recovery_key, seal_record_key
from intake.storage import migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.models import Case, Mission
from intake.triage import officers
from intake.triage.queue import list_cases

STATUSES = ["new", "acknowledged", "in_progress", "awaiting_defender", "escalated", "closed"]


def median_ms(action, runs: int = 20) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--missions", type=int, default=150)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    rng = random.Random(7)  # synthetic data, not security

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        now = datetime.now(UTC)
        missions = [f"m{n:03d}" for n in range(args.missions)]
        with sessions.begin() as session:
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
        start = time.perf_counter()
        batch = []
        for n in range(args.cases):
            urgency = rng.choice(["immediate", "days", "not_urgent"])
            batch.append(
                {
                    "id": os.urandom(16).hex(),
                    "reference": f"HRD-{n:04d}-{n // 10000:04d}"[:13] + str(n),
                    "mission_id": rng.choice(missions),
                    "kind": rng.choice(["threat_report", "assistance_request"]),
                    "urgency": urgency,
                    "urgency_rank": ["immediate", "days", "not_urgent"].index(urgency),
                    "status": rng.choice(STATUSES),
                    "flagged": False,
                    "claimed_by": None,
                    "submitted_at": now - timedelta(minutes=rng.randrange(500_000)),
                    "updated_at": now,
                    "dek_wrapped": None,
                    "kek_version": None,
                    "payload_ct": os.urandom(900),
                }
            )
            if len(batch) == 5000:
                with sessions.begin() as session:
                    session.execute(insert(Case), batch)
                batch = []
        if batch:
            with sessions.begin() as session:
                session.execute(insert(Case), batch)
        filled = time.perf_counter() - start

        with sessions() as session:
            officer_page = median_ms(lambda: list_cases(session, [missions[17]], limit=50))
            operator_page = median_ms(lambda: list_cases(session, None, limit=50))
            status_page = median_ms(lambda: list_cases(session, [missions[17]], ["new"], limit=50))
            deep_page = median_ms(lambda: list_cases(session, [missions[17]], limit=50, offset=500))

        # Seal and open, with real keys.
        from crypto import generate_keypair

        _, recovery_public = generate_keypair()
        with sessions.begin() as session:
            register_recovery_key(session, recovery_public, now)
            officer, _ = officers.enrol(
                session,
                mission_id=missions[0],
                name="Bench",
                passphrase=b"bench passphrase",
                now=now,
            )
            officer_id = officer.id
        unlock_ms = median_ms(
            lambda: officers.unlock(sessions(), officer_id, b"bench passphrase"), runs=5
        )
        with sessions() as session:
            keys = officers.unlock(session, officer_id, b"bench passphrase")
        sealed_ids = []

        def seal_one() -> None:
            with sessions.begin() as session:
                case_id = os.urandom(16).hex()
                seal_record_key(
                    session, "case", case_id, f"REF-{case_id[:8]}", missions[0], new_data_key(), now
                )
                sealed_ids.append(case_id)

        seal_ms = median_ms(seal_one, runs=50)

        def open_one() -> None:
            case_id = rng.choice(sealed_ids)
            with sessions() as session:
                keys.open_record_key(session, "case", case_id, f"REF-{case_id[:8]}")

        open_ms = median_ms(open_one, runs=50)
        engine.dispose()

    print(
        f"database: {url.split(':')[0]}; {args.cases:,} cases across {args.missions} missions "
        f"(inserted in {filled:.1f} s)"
    )
    print(f"queue list, one page of an officer's mission:  {officer_page:7.2f} ms")
    print(f"queue list, one page of every queue (operator): {operator_page:7.2f} ms")
    print(f"queue list, one mission filtered by status:     {status_page:7.2f} ms")
    print(f"queue list, one mission, page 11:               {deep_page:7.2f} ms")
    print(
        f"seal a case key (mission + recovery), {DEFAULT_ALGORITHM}: {seal_ms:7.2f} ms (incl. commit)"
    )
    print(f"open a case key as an officer (after unlock):  {open_ms:7.2f} ms")
    print(
        f"officer unlock (Argon2id {KdfParams().memory_kib // 1024} MiB, {KdfParams().iterations} passes): "
        f"{unlock_ms:7.1f} ms"
    )


if __name__ == "__main__":
    main()
