"""`keys rewrap` killed with SIGKILL at 10 random points over 50,000 records resumes and loses nothing.

The command runs as operators run it (`python -m intake keys rewrap --batch 500`,
a subprocess on the real database). Each kill lands at a random point: once a
random number of records is done (one such point in each tenth of the work),
then after a random extra delay, so inside a batch as often as between two.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from intake.storage.wrapped_keys import WRAPPED_TABLES, records_not_on
from tests.support.bulk import insert_records, wrapped_counts
from tests.support.keys import rotate
from tests.support.setup import Setup

RECORDS = 50_000
KILLS = 10
REWRAP = [sys.executable, "-m", "intake", "keys", "rewrap", "--batch", "500"]


def remaining(setup: Setup) -> int:
    with setup.sessions() as session:
        return records_not_on(session, 2)


def test_rewrap_resumes_after_sigkill_and_loses_nothing(setup: Setup) -> None:
    # Given 50,000 records (and 3 channel values) wrapped under KEK version 1, and version 2 the primary.
    insert_records(setup.sessions, setup.cipher, RECORDS, setup.clock())
    with setup.sessions() as session:
        before = wrapped_counts(session)
    assert rotate(setup) == 2
    env = {**os.environ, **setup.env}
    total = remaining(setup)
    seed = random.randrange(2**32)
    rng = random.Random(seed)  # printed on failure: a failing run can be replayed
    # Kill points: one at a random place in each tenth of the work, at least a few batches
    # apart (so each run has work when it is killed), leaving some for the final run.
    share = (total - total // 20) // KILLS
    targets = [total - (n + 1) * share + rng.randrange(share // 2) for n in range(KILLS)]
    left = [total]
    for target in targets:
        # When a run is killed once `target` records are left, plus a random delay...
        process = subprocess.Popen(
            REWRAP, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while remaining(setup) > target and process.poll() is None:
            assert time.monotonic() < deadline, f"seed {seed}: no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, f"seed {seed}: the run ended by itself"
        # ...the next run starts from what is done: progress is never lost.
        left.append(remaining(setup))
        assert left[-1] <= left[-2], f"seed {seed}: {left}"
    assert left[-1] > 0, f"seed {seed}: nothing left for the final run"

    # Then a last run completes, and a second one finds nothing to do.
    final = subprocess.run(REWRAP, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    again = subprocess.run([*REWRAP, "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and '"rewrapped": 0' in again.stdout

    # Every record is still there, on version 2, and opens (so none was wrapped twice).
    with setup.sessions() as session:
        assert wrapped_counts(session) == before
        for spec in WRAPPED_TABLES:
            column = spec.table.c.kek_version
            versions = set(session.scalars(select(column).where(column.is_not(None)).distinct()))
            assert versions <= {2}, f"seed {seed}: {spec.name} on {versions}"
    verify = subprocess.run(
        [sys.executable, "-m", "intake", "keys", "verify", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f'"conversation": {before["conversations"]}' in verify.stdout
