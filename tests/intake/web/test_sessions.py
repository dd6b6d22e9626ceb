"""The console's session store under a flood of anonymous visits (memory only, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.storage.models import Officer
from intake.triage.acting import Acting
from intake.triage.logins import Unlocked
from intake.web.sessions import SessionStore

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def signed_in(store: SessionStore, officer_id: str) -> str:
    session = store.new()
    session.unlocked = Unlocked(Acting(Officer(id=officer_id), None), frozenset({"totp"}))
    return session.id


def test_a_flood_of_anonymous_sessions_does_not_log_officers_out() -> None:
    ended: list[tuple[str, str]] = []
    store = SessionStore(lambda: NOW, on_end=lambda who, why: ended.append((who, why)), max_sessions=5)
    ana = signed_in(store, "off-ana")
    first_visit = store.new().id
    # When many more anonymous visits come than the store keeps,
    for _ in range(50):
        store.new()
    # the officer is still signed in, and the oldest anonymous sessions went instead.
    assert store.get(ana) is not None and store.get(ana).officer_id == "off-ana"  # type: ignore[union-attr]
    assert store.get(first_visit) is None
    assert len(store) == 5 and ended == []


def test_officers_sessions_go_oldest_first_once_no_anonymous_one_is_left() -> None:
    ended: list[tuple[str, str]] = []
    store = SessionStore(lambda: NOW, on_end=lambda who, why: ended.append((who, why)), max_sessions=2)
    oldest = signed_in(store, "off-1")
    newer = signed_in(store, "off-2")
    latest = signed_in(store, "off-3")
    assert store.get(oldest) is None and store.get(newer) is not None and store.get(latest) is not None
    assert ended == [("off-1", "evicted")]  # audited as any end of a signed-in session
