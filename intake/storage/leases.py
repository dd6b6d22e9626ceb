"""Leases: one `serve` process at a time consumes a channel account.

Several processes may share one PostgreSQL database; a Telegram bot token or
a Matrix account must still be consumed by exactly one of them (two pollers
of one bot token fight with 409 Conflicts; two Matrix clients on one device
corrupt its encryption sessions). The holder renews its lease well before it
expires; a standby takes it over once it has expired, which is how a killed
holder is replaced.

Every function takes a session and runs one statement (or two), race-safe
on PostgreSQL and SQLite: the first taker inserts the row (`INSERT ... ON
CONFLICT DO NOTHING`), later ones take it over with a conditional UPDATE
whose WHERE clause PostgreSQL re-checks on the locked row, so of two
standbys only one wins. `generation` grows at every change of holder: a
fencing token to compare when in doubt.

Expiry times come from the caller's clock: hosts sharing a database must
keep their clocks synchronised (NTP), and the holder stops consuming a
margin before its lease expires (see `bots.runner`).

A holder that provably died (same host and PID namespace, its pid free) is
replaced at once: a process restarted after a crash takes its channel back
without waiting out its own old lease.

The lease name never carries a secret or an identity: a Telegram token and
the bot's Matrix id appear as hashes (not the keyring's pseudonym, which
changes when its key rotates and would split one account into two leases).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake.errors import LeaseUnavailable
from intake.storage.models import Lease


@dataclass(frozen=True)
class LeaseView:
    """A lease as the database holds it (holder None: released)."""

    name: str
    holder: str | None
    generation: int
    expires_at: datetime


def _pid_namespace() -> str:
    """This process's PID namespace (Linux), "-" where unknown."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def new_holder_id() -> str:
    """host:pid-namespace:pid:random, unique per process start."""
    host = socket.gethostname()[:50]
    return f"{host}:{_pid_namespace()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(holder: str, me: str) -> bool:
    """Whether `holder` provably no longer runs; False whenever in doubt.

    Provable only for a process of this host and PID namespace: its pid is
    free, or is our own pid (an earlier process whose pid we reuse, as after
    a container restart). So a process restarted after a crash takes its
    channel back at once instead of waiting out the lease; a holder on
    another host (or in another namespace) is waited out. A pid reused by
    an unrelated process only means waiting, never two consumers.
    """
    if holder == me:
        return False
    try:
        host, namespace, pid_text, _ = holder.rsplit(":", 3)
        my_host, my_namespace, _, _ = me.rsplit(":", 3)
    except ValueError:
        return False
    if (host, namespace) != (my_host, my_namespace) or namespace == "-" or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, another user's (PermissionError): alive
        return False
    return False


def telegram_lease_name(token: str) -> str:
    """The lease of a bot token; a hash of the token (high-entropy) reveals nothing of it."""
    digest = hashlib.sha256(b"hrd-intake lease\x00telegram\x00" + token.encode("utf-8"))
    return f"telegram:{digest.hexdigest()[:32]}"


def matrix_lease_name(homeserver: str, user: str) -> str:
    """The lease of the bot's Matrix account: a hash, so no Matrix id is stored."""
    if not user.startswith("@"):
        user = f"@{user}:{urlparse(homeserver).hostname or homeserver}"
    digest = hashlib.sha256(b"hrd-intake lease\x00matrix\x00" + user.encode("utf-8"))
    return f"matrix:{digest.hexdigest()[:32]}"


def acquire(
    session: Session,
    name: str,
    holder: str,
    ttl: timedelta,
    now: datetime,
    gone: Callable[[str], bool] | None = None,
) -> LeaseView:
    """Take the lease if it is new, released, expired or already ours.

    Args:
        gone: says whether a holder provably no longer runs (`holder_is_gone`):
            its lease is taken at once, without waiting for it to expire.

    Returns the lease as it is now: ours if `holder` is ours, else whose it
    is and until when (a standby sleeps until then).
    """
    expires = now + ttl
    builder = pg_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
    inserted = session.execute(
        builder(Lease)
        .values(name=name, holder=holder, generation=1, acquired_at=now, expires_at=expires)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(Lease.generation)
    ).scalar()
    if inserted is not None:
        return LeaseView(name, holder, 1, expires)
    takeable = (Lease.holder == holder) | Lease.holder.is_(None) | (Lease.expires_at <= now)
    taken = _take(session, name, holder, expires, now, takeable)
    if taken is None:
        found = current(session, name)
        if found is None:  # deleted by hand meanwhile: try again next time
            return LeaseView(name, None, 0, now)
        if found.holder is None or gone is None or not gone(found.holder):
            return found
        # Conditional on that same holder: if another standby was quicker, it keeps it.
        taken = _take(session, name, holder, expires, now, Lease.holder == found.holder)
        if taken is None:
            return current(session, name) or LeaseView(name, None, 0, now)
    return LeaseView(name, holder, taken, expires)


def _take(
    session: Session,
    name: str,
    holder: str,
    expires: datetime,
    now: datetime,
    condition: ColumnElement[bool],
) -> int | None:
    """Make `holder` hold lease `name` if `condition` holds; the generation, or None."""
    ours = Lease.holder == holder
    # Every SET expression sees the row as it was: CASE tells a renewal from a takeover.
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, condition)
        .values(
            holder=holder,
            expires_at=expires,
            generation=case((ours, Lease.generation), else_=Lease.generation + 1),
            acquired_at=case((ours, Lease.acquired_at), else_=now),
        )
        .returning(Lease.generation)
        .execution_options(synchronize_session=False)
    ).scalar()
    return None if taken is None else int(taken)


def renew(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Extend our lease; False if it is no longer ours (taken over, or released)."""
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, name: str, holder: str, now: datetime) -> bool:
    """Give the lease up now (a standby takes it at once); False if it was not ours."""
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(holder=None, expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def current(session: Session, name: str) -> LeaseView | None:
    row = session.get(Lease, name, populate_existing=True)
    if row is None:
        return None
    return LeaseView(row.name, row.holder, row.generation, row.expires_at)


def all_leases(session: Session) -> list[LeaseView]:
    rows = session.scalars(select(Lease).order_by(Lease.name))
    return [LeaseView(r.name, r.holder, r.generation, r.expires_at) for r in rows]


class Leases:
    """One process's leases, each call in its own transaction (channels know no SQL).

    Args:
        sessions: opens database sessions.
        holder: this process's holder id (`new_holder_id`).
        ttl: how long a lease lasts without renewal.
        clock: returns the current aware UTC time.

    Every method raises `LeaseUnavailable` when the database fails.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        holder: str,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self.holder = holder
        self.ttl = ttl
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def acquire(self, name: str) -> LeaseView:
        """The lease after trying to take it: ours if `.holder` is `self.holder`."""
        with self._guard(name), self._sessions.begin() as session:
            return acquire(session, name, self.holder, self.ttl, self._clock(), self._gone)

    def _gone(self, holder: str) -> bool:
        return holder_is_gone(holder, self.holder)

    def renew(self, name: str) -> bool:
        with self._guard(name), self._sessions.begin() as session:
            return renew(session, name, self.holder, self.ttl, self._clock())

    def release(self, name: str) -> bool:
        with self._guard(name), self._sessions.begin() as session:
            return release(session, name, self.holder, self._clock())

    def current(self, name: str) -> LeaseView | None:
        with self._guard(name), self._sessions() as session:
            return current(session, name)

    @staticmethod
    @contextmanager
    def _guard(name: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise LeaseUnavailable(name, type(exc).__name__) from exc
