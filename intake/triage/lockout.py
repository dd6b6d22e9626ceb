"""Failed web logins per officer id: counted, locked out with backoff, audited.

What is kept: failures in a row and the lockout end per officer
(`web_lockouts`, plaintext), and an audit entry for every failure, lockout
and login. An entry names the id typed only when it is an officer's (active
or revoked); otherwise the fixed `unknown-id`, so nothing typed by mistake
into the id field (a passphrase, say) is kept. From `FREE_FAILURES` failures in a row on, each further failure
locks the id out for twice as long as the last (one minute, two, four... at
most an hour); a login resets the count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from intake.errors import LoginRefused
from intake.storage import web_login
from intake.storage.audit import AuditTrail
from intake.triage.officers import UNKNOWN_ID, find_officer

__all__ = ["FIRST_LOCK", "FREE_FAILURES", "LONGEST_LOCK", "REFUSED", "Lockout"]

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
REFUSED = "officer id, passphrase or code not accepted"


class Lockout:
    """The login desk's failure count per officer id; each failure in a transaction of its own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        trail: AuditTrail,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._trail = trail
        self._clock = clock

    def check(self, officer_id: str) -> None:
        """Refuse (audited, with `retry_after`) while the id is locked out."""
        now = self._clock()
        with self._sessions() as session:
            until = web_login.locked_until(session, officer_id)
        if until is not None and until > now:
            retry = int((until - now).total_seconds()) + 1
            self._trail.refusal(now, f"officer:{officer_id}", "web.login", officer_id, "locked out")
            raise LoginRefused(
                f"too many failed attempts: try again in {retry} seconds", retry_after=retry
            )

    def failed(self, officer_id: str | None, stage: str, reason: str) -> NoReturn:
        """Count a failure (lock out past the free ones), audit it, and refuse.

        `officer_id` None: what was typed is not shaped like an id. The entry names
        the id only if it is an officer's, else `UNKNOWN_ID` (see `officers.UNKNOWN_ID`).
        """
        now = self._clock()
        with self._sessions.begin() as session:
            officer = None if officer_id is None else find_officer(session, officer_id)
            if officer is not None and officer.status == "active":
                self._count(session, officer.id, now)
            named = UNKNOWN_ID if officer is None else officer.id
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

    def _count(self, session: Session, officer_id: str, now: datetime) -> None:
        row = web_login.lockout_of(session, officer_id, now)
        row.failures += 1
        row.updated_at = now
        over = row.failures - FREE_FAILURES
        if over >= 0:
            row.locked_until = now + min(FIRST_LOCK * (2**over), LONGEST_LOCK)
            self._trail.append(
                session,
                now,
                "service",
                "web.locked",
                officer_id,
                failures=row.failures,
                until=row.locked_until.isoformat(),
            )

    def logged_in(self, session: Session, officer_id: str, factor: str, now: datetime) -> None:
        """Reset the count and audit the login, in the caller's transaction."""
        row = web_login.lockout_of(session, officer_id, now)
        row.failures, row.locked_until, row.updated_at = 0, None, now
        self._trail.append(
            session, now, f"officer:{officer_id}", "web.login", officer_id, factor=factor
        )

