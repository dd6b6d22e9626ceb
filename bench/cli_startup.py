"""Start-up time of the `hrd-intake` command line, per command, and what `queue list` imports.

Officers run `queue list` and `queue show` many times a day, and the CLI tests run
the command line as a subprocess a few hundred times per database pass: most of
that time is Python importing modules the command does not use.

Each command runs `--runs` times in a fresh process (after one untimed warm-up
run) against a temporary `init --demo` home; printed: the median wall-clock time
and the median CPU time (user + system, from the child's resource usage). Then
one run of `queue list` under `-X importtime` (PYTHONPROFILEIMPORTTIME): the
modules with the largest cumulative import time, and the import time (self)
summed per top-level package.

    .venv/bin/python bench/cli_startup.py [--runs 9] [--top 25]

CPU time is the steadier figure on a shared machine: wall time includes waiting
for the other processes' turn on the cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hrd_intake() -> list[str]:
    """The console script operators run (beside this interpreter), else `python -m intake`."""
    script = Path(sys.executable).parent / "hrd-intake"
    return [str(script)] if script.exists() else [sys.executable, "-m", "intake"]


COMMANDS: list[tuple[str, list[str]]] = [
    ("import intake.cli.main", [sys.executable, "-c", "import intake.cli.main"]),
    ("hrd-intake --help", ["--help"]),
    ("hrd-intake queue --help", ["queue", "--help"]),
    ("hrd-intake queue list", ["queue", "list"]),
    ("hrd-intake keys status", ["keys", "status"]),
]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run; raises if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def import_times(argv: list[str], env: dict[str, str]) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) of every import of one run, in import order."""
    done = subprocess.run(
        argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, cwd=ROOT, capture_output=True, check=True
    )
    rows = []
    for line in done.stderr.decode().splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((name.strip(), int(own), int(cumulative)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs per command")
    parser.add_argument("--top", type=int, default=25, help="modules to list by import time")
    args = parser.parse_args()

    base = hrd_intake()
    home = Path(tempfile.mkdtemp(prefix="cli-startup-"))
    # Only this home's settings: none of the caller's HRD_INTAKE_* variables.
    env = {name: value for name, value in os.environ.items() if not name.startswith("HRD_INTAKE_")}
    env["HRD_INTAKE_HOME"] = str(home / "home")
    try:
        subprocess.run([*base, "init", "--demo"], env=env, capture_output=True, check=True)
        print(f"{args.runs} runs each, median; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        print(f"{'command':<28} {'wall (s)':>9} {'CPU (s)':>9}")
        for label, tail in COMMANDS:
            argv = tail if tail[0] == sys.executable else [*base, *tail]
            run_once(argv, env)  # warm-up: the page cache, .pyc files
            times = [run_once(argv, env) for _ in range(args.runs)]
            wall = statistics.median(t[0] for t in times)
            cpu = statistics.median(t[1] for t in times)
            print(f"{label:<28} {wall:>9.2f} {cpu:>9.2f}")

        rows = import_times([*base, "queue", "list"], env)
        total = sum(own for _, own, _ in rows)
        print(f"\n`queue list` imports {len(rows)} modules, {total / 1e6:.2f} s in all (one run)")
        print(f"top {args.top} by cumulative import time (s):")
        for name, _, cumulative in sorted(rows, key=lambda row: -row[2])[: args.top]:
            print(f"  {cumulative / 1e6:6.3f}  {name}")
        packages: dict[str, int] = defaultdict(int)
        for name, own, _ in rows:
            packages[name.split(".")[0]] += own
        print(f"top {args.top} top-level packages by their own import time (s):")
        for name, own in sorted(packages.items(), key=lambda item: -item[1])[: args.top]:
            print(f"  {own / 1e6:6.3f}  {name}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
