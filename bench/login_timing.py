"""How long a refused login takes: a real officer id with a wrong passphrase, against ids of nobody.

    .venv/bin/python bench/login_timing.py [--runs 30] [--database-url postgresql+psycopg://...]

A real embedded setup (keyring, migrated SQLite unless `--database-url`, demo
missions) with two officers enrolled at the production Argon2id cost (64 MiB,
3 passes), one of them then revoked, and the login desk as the console builds
it (its decoy key at the same cost). Each round tries, in turn:

- a known id with a wrong passphrase (the officer's own key is derived and fails),
- a well-formed id nobody has, a revoked officer's id, and a typed text that is
  no id at all (a passphrase typed into the id field): each is refused after
  the same derivation on the decoy key (`intake.triage.decoy`).

Both at the desk (`LoginDesk.unlock`, what decides) and through the console
(`POST /login` on the real Starlette app, Starlette's test client: form,
CSRF, throttle, templates). The clock moves two hours before each attempt,
so the per-id lockout and the per-address limit never answer early. Prints
the median and the spread (p10 to p90) in milliseconds: the medians should
differ by far less than one Argon2id run. Not a test: timing is for a human.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.testclient import TestClient

from crypto import KdfParams
from intake.core import desks
from intake.errors import LoginRefused
from intake.triage import officers
from intake.web import SessionStore, WebOptions, build_app
from tests.support.setup import Setup, embedded_setup
from tests.support.web import csrf

PRODUCTION = KdfParams()
WRONG = b"a wrong guess at the passphrase"


def enrol(setup: Setup, name: str) -> str:
    with setup.sessions.begin() as session:
        officer, _ = officers.enrol(
            session,
            setup.directory,
            mission_id="eu-del-ua",
            name=name,
            passphrase=b"correct horse battery staple",
            now=setup.clock(),
            unlock=setup.recovery,
            kdf=PRODUCTION,
        )
        return officer.id


def refused(attempt: Callable[[], object]) -> float:
    """Milliseconds until `attempt` was refused."""
    start = time.perf_counter()
    try:
        attempt()
    except LoginRefused:
        return (time.perf_counter() - start) * 1000
    raise AssertionError("the attempt was not refused")


def _derive(open_decoy: Callable[[bytes], None]) -> None:
    open_decoy(WRONG)
    raise LoginRefused("derived")


def spread(times: list[float]) -> str:
    deciles = statistics.quantiles(times, n=10)
    return f"median {statistics.median(times):7.1f} ms   p10 {deciles[0]:7.1f}   p90 {deciles[-1]:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url", help="default: SQLite in a temporary home")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        url = args.database_url or f"sqlite:///{home / 'intake.db'}"
        with embedded_setup(home, url, PRODUCTION) as setup:
            known = enrol(setup, "Ana Officer")
            revoked = enrol(setup, "Ben Officer")
            staff = desks.build_staff_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
            staff.revoke(revoked, None, keep_mission_key=True)
            settings, sessions, cipher, clock = (
                setup.settings,
                setup.sessions,
                setup.cipher,
                setup.clock,
            )
            logins = desks.build_logins(settings, sessions, cipher, clock)  # the production decoy
            desk = desks.build_desk(settings, sessions, cipher, clock)
            throttle = desks.build_login_throttle(settings, sessions, clock)
            store = SessionStore(clock, on_end=logins.logged_out)
            console = build_app(desk, logins, throttle, store, WebOptions(), clock)

            client = TestClient(console, base_url="http://localhost", follow_redirects=False)

            def posted(typed: str) -> float:
                """Milliseconds of one refused `POST /login` (the form's page is fetched before)."""
                token = csrf(client.get("/login").text)  # a fresh session: the clock moved hours
                form = {"csrf": token, "officer": typed, "passphrase": WRONG.decode()}
                start = time.perf_counter()
                answer = client.post("/login", data=form)
                elapsed = (time.perf_counter() - start) * 1000
                if answer.status_code != 401:
                    raise AssertionError(f"{answer.status_code}: {answer.text[:200]}")
                return elapsed

            cases = {
                "known id, wrong passphrase": known,
                "unknown id (well-formed)": "nobody-officer-0000",
                "revoked officer's id": revoked,
                "no id (a passphrase typed there)": "correct horse battery staple",
            }
            desk_times: dict[str, list[float]] = {name: [] for name in cases}
            web_times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):  # interleaved: drift on a shared machine hits all alike
                for name, typed in cases.items():
                    clock.advance(hours=2)
                    desk_times[name].append(
                        refused(lambda typed=typed: logins.unlock(typed, WRONG))
                    )
                    clock.advance(hours=2)
                    web_times[name].append(posted(typed))
            assert logins.decoy.opened == 6 * args.runs
            # For reference, the derivation alone: what an unknown id skipped before the decoy.
            derivation = [refused(lambda: _derive(logins.decoy.open)) for _ in range(args.runs)]
            client.close()

    where = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"refused logins on {where}, Argon2id {PRODUCTION.memory_kib // 1024} MiB x "
        f"{PRODUCTION.iterations} passes x {PRODUCTION.lanes} lanes, {args.runs} runs each"
    )
    for label, times in (
        ("at the desk (LoginDesk.unlock)", desk_times),
        ("through the console (POST /login)", web_times),
    ):
        print(label)
        for name, measured in times.items():
            print(f"  {name:34} {spread(measured)}")
        base = statistics.median(times["known id, wrong passphrase"])
        worst = max(abs(statistics.median(t) - base) for t in times.values())
        print(f"  largest median difference from the known id: {worst:.1f} ms")
    print(f"the decoy's Argon2id run alone (skipped before)  {spread(derivation)}")


if __name__ == "__main__":
    main()
