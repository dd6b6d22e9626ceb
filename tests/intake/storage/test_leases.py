"""Leases on channel accounts, on both databases: take, renew, release, take over, race."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta

from intake.storage import leases, migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.leases import Leases, LeaseView

TTL = timedelta(seconds=15)


def test_one_holder_until_expiry_then_a_takeover_with_a_new_generation(
    database_url: str, now: datetime
) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    name = leases.telegram_lease_name("123:SECRET")
    with sessions.begin() as session:
        first = leases.acquire(session, name, "host-a:1:aa", TTL, now)
    assert first == LeaseView(name, "host-a:1:aa", 1, now + TTL)
    with sessions.begin() as session:
        # Another process is refused while the lease runs, and learns until when.
        refused = leases.acquire(session, name, "host-b:2:bb", TTL, now + timedelta(seconds=14))
        assert refused.holder == "host-a:1:aa" and refused.expires_at == now + TTL
        # The holder renews; taking it again is a renewal (same generation).
        assert leases.renew(session, name, "host-a:1:aa", TTL, now + timedelta(seconds=5))
        again = leases.acquire(session, name, "host-a:1:aa", TTL, now + timedelta(seconds=6))
        assert again.generation == 1
    later = now + timedelta(seconds=6) + TTL
    with sessions.begin() as session:
        # Expired: the other process takes it over, and the old holder cannot renew.
        taken = leases.acquire(session, name, "host-b:2:bb", TTL, later)
        assert taken == LeaseView(name, "host-b:2:bb", 2, later + TTL)
        assert not leases.renew(session, name, "host-a:1:aa", TTL, later)
        assert not leases.release(session, name, "host-a:1:aa", later)
        # A release hands it over at once.
        assert leases.release(session, name, "host-b:2:bb", later)
        handed = leases.acquire(session, name, "host-a:1:aa", TTL, later)
        assert handed.holder == "host-a:1:aa" and handed.generation == 3
    with sessions() as session:
        assert [lease.name for lease in leases.all_leases(session)] == [name]
    engine.dispose()


def test_names_never_carry_the_secret_or_the_bot_identity() -> None:
    name = leases.telegram_lease_name("123456:AAE-secret-part")
    assert name.startswith("telegram:") and "secret" not in name and "123456" not in name
    assert name == leases.telegram_lease_name("123456:AAE-secret-part")
    matrix = leases.matrix_lease_name("https://hs.example.org", "bot")
    assert matrix == leases.matrix_lease_name("https://x", "@bot:hs.example.org")
    assert matrix.startswith("matrix:") and "bot" not in matrix and "example" not in matrix
    assert len(leases.matrix_lease_name("https://x", "@" + "b" * 200 + ":hs")) <= 100


def test_a_holder_that_died_on_this_host_is_replaced_at_once(
    database_url: str, now: datetime
) -> None:
    # Given a lease held, far from expiry, by a process of this host that has exited,
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    me = leases.new_holder_id()
    host, namespace, _, _ = me.rsplit(":", 3)
    dead = f"{host}:{namespace}:{finished.stdout.strip()}:dead"
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        leases.acquire(session, "telegram:x", dead, TTL, now)
    # when this process (its successor) asks, it takes the lease without waiting;
    mine = Leases(sessions, me, TTL, lambda: now + timedelta(seconds=1))
    taken = mine.acquire("telegram:x")
    assert taken.holder == me and taken.generation == 2
    # but a holder that still runs, or runs elsewhere, is waited out.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        try:
            running = f"{host}:{namespace}:{alive.pid}:live"
            assert not leases.holder_is_gone(running, me)
        finally:
            alive.kill()
    assert not leases.holder_is_gone(f"other-host:{namespace}:1:x", me)
    assert not leases.holder_is_gone(f"{host}:another-namespace:1:x", me)
    assert not leases.holder_is_gone(me, me)
    assert leases.holder_is_gone(f"{host}:{namespace}:{os.getpid()}:earlier", me)
    assert not leases.holder_is_gone("not a holder id", me)
    engine.dispose()


def test_of_many_simultaneous_takers_one_wins(database_url: str, now: datetime) -> None:
    # Given an expired lease and eight standbys in threads, each with its own connection,
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        leases.acquire(session, "matrix:@bot:hs", "dead:1:00", TTL, now - 2 * TTL)
    barrier = threading.Barrier(8)
    won: list[str] = []
    errors: list[BaseException] = []

    def take(holder: str) -> None:
        try:
            mine = Leases(sessions, holder, TTL, lambda: now)
            barrier.wait()
            if mine.acquire("matrix:@bot:hs").holder == holder:
                won.append(holder)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(f"standby:{n}:00",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # when they all try at once, exactly one takes it, once.
    assert errors == []
    assert len(won) == 1
    with sessions() as session:
        lease = leases.current(session, "matrix:@bot:hs")
        assert lease is not None and lease.holder == won[0] and lease.generation == 2
    engine.dispose()


def test_holder_ids_differ_per_process_start() -> None:
    first, second = leases.new_holder_id(), leases.new_holder_id()
    assert first != second and first.rsplit(":", 1)[0] == second.rsplit(":", 1)[0]
    assert first.rsplit(":", 2)[1] == str(os.getpid())
