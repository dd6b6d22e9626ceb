"""Failed web logins per officer id: counted, locked out with backoff, audited.

From `FREE_FAILURES` failures in a row on, each further failure locks the id
out for twice as long as the last (one minute, two, four... at most an
hour); a login resets the count. A locked-out id is refused before anything
else is checked.

An id that no active officer has (unknown, revoked, or no id at all) is
counted and locked out alike, so the answers to a run of attempts (when the
429 and its `Retry-After` come) do not tell whoever tries ids which ones are
real. Its count is kept in this process's memory only, under an HMAC of what
was typed with a random key of the process (never what was typed), at most
`MAX_STRANGERS` of them, the least recently failed going first. A restart
forgets them, and each process counts its own, where an officer's count is
shared by every process and survives a restart.

What is kept: an officer's failures in a row and lockout end
(`web_lockouts`, plaintext), and an audit entry for every failure, lockout
and login. An entry names the id typed only when it is an officer's (active
or revoked); otherwise the fixed `unknown-id` (`officers.UNKNOWN_ID`), so
nothing typed by mistake into the id field (a passphrase, say) is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from intake.errors import LoginRefused
from intake.references import parse_officer_id
from intake.storage import web_login
from intake.storage.audit import AuditTrail
from intake.triage.officers import UNKNOWN_ID, find_officer, named_officer

__all__ = ["FIRST_LOCK", "FREE_FAILURES", "LONGEST_LOCK", "MAX_STRANGERS", "REFUSED", "Lockout"]

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
MAX_STRANGERS = 10_000
REFUSED = "officer id, passphrase or code not accepted"
_LONGEST_DOUBLING = 16  # 2**16 minutes is past LONGEST_LOCK; a larger power overflows timedelta


def lock_end(failures: int, now: datetime) -> datetime | None:
    """When `failures` in a row lock an id out until (None: not yet)."""
    over = failures - FREE_FAILURES
    if over < 0:
        return None
    doubled: int = 2 ** min(over, _LONGEST_DOUBLING)
    return now + min(FIRST_LOCK * doubled, LONGEST_LOCK)


class _Strangers:
    """Failures of ids no active officer has: in memory, by keyed hash, bounded."""

    def __init__(self, most: int) -> None:
        self._key = secrets.token_bytes(32)  # this process's: the tags mean nothing elsewhere
        # failures in a row, locked until; the least recently failed first
        self._counts: OrderedDict[bytes, tuple[int, datetime | None]] = OrderedDict()
        self._most = most
        self._lock = threading.Lock()

    def _tag(self, typed: str) -> bytes:
        data = typed.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def locked_until(self, typed: str) -> datetime | None:
        with self._lock:
            return self._counts.get(self._tag(typed), (0, None))[1]

    def failed(self, typed: str, now: datetime) -> tuple[int, datetime | None]:
        """Count one more failure; returns the failures in a row, and the new lockout end if any."""
        tag = self._tag(typed)
        with self._lock:
            failures, until = self._counts.pop(tag, (0, None))
            failures += 1
            new_until = lock_end(failures, now)
            self._counts[tag] = (failures, new_until or until)
            while len(self._counts) > self._most:
                self._counts.popitem(last=False)
        return failures, new_until

    @property
    def tracked(self) -> int:
        return len(self._counts)


class Lockout:
    """The login desk's failure count per officer id; each failure in a transaction of its own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        trail: AuditTrail,
        clock: Callable[[], datetime],
        max_strangers: int = MAX_STRANGERS,
    ) -> None:
        self._sessions = sessions
        self._trail = trail
        self._clock = clock
        self._strangers = _Strangers(max_strangers)

    @property
    def strangers(self) -> int:
        """How many ids that are nobody's have their failures counted (in memory)."""
        return self._strangers.tracked

    def check(self, typed: str) -> None:
        """Refuse (audited, with `retry_after`) while the id typed is locked out."""
        now = self._clock()
        officer_id = parse_officer_id(typed)
        with self._sessions() as session:
            until = None if officer_id is None else web_login.locked_until(session, officer_id)
            if until is None:
                until = self._strangers.locked_until(typed)
            if until is None or until <= now:
                return
            named = named_officer(session, typed)
        retry = int((until - now).total_seconds()) + 1
        self._trail.refusal(now, f"officer:{named}", "web.login", named, "locked out")
        raise LoginRefused(
            f"too many failed attempts: try again in {retry} seconds", retry_after=retry
        )

    def failed(self, typed: str, stage: str, reason: str) -> NoReturn:
        """Count a failure (lock out past the free ones), audit it, and refuse."""
        now = self._clock()
        with self._sessions.begin() as session:
            officer = find_officer(session, typed)
            named = UNKNOWN_ID if officer is None else officer.id
            if officer is not None and officer.status == "active":
                row = web_login.lockout_of(session, officer.id, now)
                row.failures += 1
                row.updated_at = now
                failures, until = row.failures, lock_end(row.failures, now)
                if until is not None:
                    row.locked_until = until
            else:
                failures, until = self._strangers.failed(typed, now)
            if until is not None:
                self._trail.append(
                    session,
                    now,
                    "service",
                    "web.locked",
                    named,
                    failures=failures,
                    until=until.isoformat(),
                )
            self._trail.append(
                session,
                now,
                f"officer:{named}",
                "refused",
                named,
                attempted=f"web.login.{stage}",
                reason=reason,
            )
        self._trail.synced()
        raise LoginRefused(REFUSED)

    def logged_in(self, session: Session, officer_id: str, factor: str, now: datetime) -> None:
        """Reset the count and audit the login, in the caller's transaction."""
        row = web_login.lockout_of(session, officer_id, now)
        row.failures, row.locked_until, row.updated_at = 0, None, now
        self._trail.append(
            session, now, f"officer:{officer_id}", "web.login", officer_id, factor=factor
        )
