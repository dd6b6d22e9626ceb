"""Server-side sessions of the web console, in this process's memory only.

The browser holds a random id (256 bits) in an HttpOnly, SameSite=Strict
cookie; everything else stays here: who logged in, how far (passphrase,
then second factor), the CSRF token, and the officer's unlocked key. Nothing
of a session is ever written to disk or the database, so a restart logs
everyone out. A session ends after `idle` without a request or `absolute`
after it began, whichever comes first; ending it drops the unlocked key.
(Python cannot promise to zero memory: dropping the last reference is what
it can do, and the key object is referenced from nowhere else.)
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from intake.triage.logins import Unlocked

__all__ = ["SessionStore", "WebSession", "same_token"]

# Sessions kept at most. Past it the oldest session nobody has signed in to goes first, so a
# flood of anonymous visits (each GET /login makes one) cannot log the officers out.
MAX_SESSIONS = 10_000


@dataclass
class WebSession:
    id: str
    csrf: str
    created: datetime
    seen: datetime
    language: str = "en"
    # Past the passphrase (keys unlocked), waiting for the second factor or enrolment.
    pending: Unlocked | None = None
    # Logged in: both factors given.
    unlocked: Unlocked | None = None
    # Enrolment in progress: the accepted one-time code, the TOTP secret offered.
    enrolment_code: str | None = None
    totp_secret: str | None = None
    # The WebAuthn challenge of the ceremony under way.
    challenge: bytes | None = None
    flash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def officer_id(self) -> str | None:
        held = self.unlocked or self.pending
        return held.officer.id if held is not None else None

    def wipe(self) -> None:
        """Drop every secret this session holds (the unlocked key first)."""
        self.pending = None
        self.unlocked = None
        self.enrolment_code = None
        self.totp_secret = None
        self.challenge = None
        self.extra.clear()


class SessionStore:
    """Sessions by id, with idle and absolute expiry on the injected clock."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        idle: timedelta = timedelta(minutes=15),
        absolute: timedelta = timedelta(hours=8),
        on_end: Callable[[str, str], None] | None = None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._clock = clock
        self._max = max_sessions
        self.idle = idle
        self.absolute = absolute
        # Told (officer id, why) when a logged-in session ends: the audit entry.
        self._on_end = on_end
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, language: str = "en") -> WebSession:
        now = self._clock()
        session = WebSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
            language=language,
        )
        evicted: list[WebSession] = []
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > self._max:
                # Oldest first; officers' sessions only once no anonymous one is left.
                older = (s for s in self._sessions.values() if s is not session)
                anonymous = (s for s in older if s.officer_id is None)
                victim = next(anonymous, None) or next(
                    s for s in self._sessions.values() if s is not session
                )
                del self._sessions[victim.id]
                evicted.append(victim)
        for victim in evicted:
            self._end(victim, "evicted")
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session with this id (its idle clock restarts), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            why = self._expired(session, now)
            if why is not None:
                del self._sessions[session_id]
            else:
                session.seen = now
                self._sessions.move_to_end(session_id)
        if why is not None:
            self._end(session, why)
            return None
        return session

    def renew(self, session: WebSession) -> WebSession:
        """A new id for a session whose privilege changes (login): no fixation."""
        with self._lock:
            self._sessions.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf = secrets.token_urlsafe(32)
            self._sessions[session.id] = session
        return session

    def end(self, session: WebSession, why: str = "logout") -> None:
        with self._lock:
            self._sessions.pop(session.id, None)
        self._end(session, why)

    def sweep(self) -> int:
        """End every expired session now; returns how many."""
        now = self._clock()
        with self._lock:
            expired = [(s, why) for s in self._sessions.values() if (why := self._expired(s, now))]
            for session, _ in expired:
                del self._sessions[session.id]
        for session, why in expired:
            self._end(session, why)
        return len(expired)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: WebSession, now: datetime) -> str | None:
        if now - session.created >= self.absolute:
            return "absolute expiry"
        if now - session.seen >= self.idle:
            return "idle expiry"
        return None

    def _end(self, session: WebSession, why: str) -> None:
        officer = session.officer_id if session.unlocked is not None else None
        session.wipe()
        if officer is not None and self._on_end is not None:
            self._on_end(officer, why)


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the session's."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
