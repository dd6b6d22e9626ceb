"""Building what runs beside the conversations in `serve`: the check-in scheduler, the places index.

Split from `intake.core.app` (the composition helpers), which re-exports nothing
of this: entry points import it directly.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from crypto import WordHashParams
from flows import CountryMatcher, fold, load_catalog
from intake.config import Settings
from intake.core.checkin_scheduler import CheckinScheduler
from intake.core.checkins import CheckinPolicy
from intake.storage.records import RecordCipher

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def checkin_policy(settings: Settings) -> CheckinPolicy:
    """Safety check-ins' grace period and word-hash cost, from `[checkins]`."""
    words = WordHashParams(
        memory_kib=settings.checkins.word_memory_kib, iterations=settings.checkins.word_iterations
    )
    return CheckinPolicy(
        grace=timedelta(minutes=settings.checkins.grace_minutes),
        words=words,
        duress_words=frozenset(fold(word) for word in settings.duress_words),
    )


def build_checkin_scheduler(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    clock: Callable[[], datetime] = utcnow,
) -> CheckinScheduler:
    """The scheduler that asks due check-ins and raises missed ones (run by `serve`)."""
    return CheckinScheduler(
        sessions,
        cipher,
        load_catalog(),
        clock,
        grace=timedelta(minutes=settings.checkins.grace_minutes),
        notify=_notify(settings),
        batch=settings.checkins.batch,
        audit_checkpoint=settings.audit_checkpoint,
    )


def _notify(settings: Settings) -> dict[str, str]:
    return {
        channel: chat
        for channel, chat in (
            ("telegram", settings.notifications.telegram_chat),
            ("matrix", settings.notifications.matrix_room),
        )
        if chat
    }


def prepare_in_background(places: CountryMatcher) -> threading.Thread:
    """Build the places index (about 2 s) in a daemon thread, so that `serve`
    answers at once and the first defender naming a city does not wait for it.

    A defender arriving before it is done builds the same tables (the cached
    properties are computed on first use either way): nothing waits on the thread.
    """

    def work() -> None:
        started = time.monotonic()
        places.prepare()
        # The index (city names in many scripts: millions of objects) and what was
        # built at start live as long as the process. Frozen, the collector stops
        # walking them at every full collection, which took a quarter to half of
        # the core's throughput at 10,000 conversations (bench/core.py).
        gc.freeze()
        log.info("places index ready", extra={"seconds": round(time.monotonic() - started, 2)})

    thread = threading.Thread(target=work, name="places-index", daemon=True)
    thread.start()
    return thread
