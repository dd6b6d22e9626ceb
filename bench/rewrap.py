"""Rewrap throughput and memory: records per second and peak memory, by database and size.

    .venv/bin/python bench/rewrap.py                       # the default set below
    .venv/bin/python bench/rewrap.py --sqlite 100000 --postgres 0 --batch 500

Default: 100,000 and 1,000,000 records on SQLite (a file in a temporary
folder, WAL, synchronous=FULL as in production), 100,000 on PostgreSQL (a
schema of its own in database `test` at 127.0.0.1:5432, dropped afterwards).

Each size runs in a fresh child process: records are bulk-inserted with the
real cipher (tests/support/bulk.py: real data keys, wraps and field
ciphertexts), the KEK is rotated, and `intake.keys.rewrap.rewrap_all` (what
`keys rewrap` runs) moves every record to the new version. Printed:
records/s of the rewrap alone; the process's peak RSS before and after it
(getrusage: a rewrap whose memory grew with the record count would raise it);
and, up to --traced-max records, the peak Python heap of a second rewrap
(after another rotation) under tracemalloc, which slows that pass down so it
is not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from crypto import KdfParams
from intake.keys.rewrap import rewrap_all
from tests.support.bulk import insert_records
from tests.support.keys import fresh_cipher, rotate
from tests.support.setup import embedded_setup

PG_ROOT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHEAP_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)  # the keyring file's own cost


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(database: str, records: int, batch: int, traced_max: int) -> dict[str, object]:
    """One measurement, in this (fresh) process."""
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if database == "sqlite":
            url = f"sqlite:///{tmp}/home/intake.db"
        else:
            schema = f"bench_rewrap_{secrets.token_hex(4)}"
            admin = create_engine(PG_ROOT, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{PG_ROOT}?options=-csearch_path%3D{schema}"
        try:
            with embedded_setup(Path(tmp) / "home", url, CHEAP_KDF) as setup:
                start = time.perf_counter()
                insert_records(setup.sessions, setup.cipher, records, datetime.now(UTC))
                insert_s = time.perf_counter() - start
                rotate(setup)
                cipher = fresh_cipher(setup)
                rss_before = rss_mib()
                start = time.perf_counter()
                report = rewrap_all(setup.sessions, cipher, batch)
                elapsed = time.perf_counter() - start
                rss_after = rss_mib()
                assert report.remaining == 0 and not report.failures
                traced = None
                if records <= traced_max:
                    rotate(setup)
                    cipher = fresh_cipher(setup)
                    tracemalloc.start()
                    rewrap_all(setup.sessions, cipher, batch)
                    traced = tracemalloc.get_traced_memory()[1] / 2**20
                    tracemalloc.stop()
        finally:
            if schema is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return {
        "database": database,
        "records": report.rewrapped,
        "insert_s": round(insert_s, 1),
        "rewrap_s": round(elapsed, 2),
        "per_second": round(report.rewrapped / elapsed),
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_after, 1),
        "traced_peak_mib": None if traced is None else round(traced, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", type=int, nargs="*", default=[100_000])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--traced-max", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("DATABASE", "RECORDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        database, records = args.child[0], int(args.child[1])
        print(json.dumps(child(database, records, args.batch, args.traced_max)))
        return
    print(f"rewrap, batch {args.batch} (records/s of the rewrap alone; memory in MiB)")
    runs = [("sqlite", n) for n in args.sqlite if n] + [
        ("postgresql", n) for n in args.postgres if n
    ]
    for database, records in runs:
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                database,
                str(records),
                "--batch",
                str(args.batch),
                "--traced-max",
                str(args.traced_max),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        traced = result["traced_peak_mib"]
        print(
            f"{database:10} {result['records']:>9,} records: {result['per_second']:>7,}/s"
            f" ({result['rewrap_s']} s; insert {result['insert_s']} s)"
            f"  peak RSS {result['rss_before_mib']} -> {result['rss_after_mib']} MiB"
            + ("" if traced is None else f"  traced heap peak {traced} MiB"),
            flush=True,
        )


if __name__ == "__main__":
    main()
