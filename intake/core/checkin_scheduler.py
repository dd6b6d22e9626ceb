"""The check-in scheduler: asks each due check-in once, raises each missed one once.

`run_once` takes up to `batch` check-ins whose time has come and, in one
transaction, acts on each:

- scheduled and due: queue the content-free prompt ("Time to check in:
  reply with your word.") on the delivery queue of the defender's channel
  (each channel's delivery worker sends it: console, Telegram, Matrix), and
  wait `grace` for the answer;
- prompted and unanswered after the grace period: raise the urgent case
  (`intake.triage.checkins.raise_alert`) and wait for a late check-in.

Exactly once: the rows are locked for the transaction (SKIP LOCKED on
PostgreSQL: other workers take other rows; SQLite's single writer), and the
state change, the queued prompt and the raised case commit together. A
worker killed at any point before the commit leaves the rows as they were,
so another worker (or this one after a restart) does the same work once; a
commit is never half done. Sending the queued prompt is then at least once,
like every delivery (`intake.storage.deliveries`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from flows import Catalog
from intake.storage import audit
from intake.storage import checkins as storage
from intake.storage.deliveries import conversation_chat, queue_delivery
from intake.storage.models import Checkin
from intake.storage.records import RecordCipher
from intake.triage.checkins import raise_alert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerTally:
    prompted: int = 0
    alerted: int = 0

    def __add__(self, other: SchedulerTally) -> SchedulerTally:
        return SchedulerTally(self.prompted + other.prompted, self.alerted + other.alerted)

    @property
    def acted(self) -> int:
        return self.prompted + self.alerted


class CheckinScheduler:
    """Acts on due check-ins; safe to run in every `serve` process at once.

    Args:
        sessions: opens database sessions.
        cipher: the record cipher (keyring): opens the chat address and the link to the case.
        catalog: the prompt's text in the defender's language.
        clock: the current aware UTC time.
        grace: how long a prompt waits for its answer before the check-in is missed.
        notify: channel -> officers' chat told of new alert cases (no content).
        batch: check-ins per transaction.
        audit_checkpoint: the audit head file, updated after commits that audit.
        on_acted: called inside the transaction after each check-in (tests stop there).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        catalog: Catalog,
        clock: Callable[[], datetime],
        *,
        grace: timedelta = timedelta(minutes=30),
        notify: Mapping[str, str] | None = None,
        batch: int = 200,
        audit_checkpoint: Path | None = None,
        on_acted: Callable[[int], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._catalog = catalog
        self._clock = clock
        self._grace = grace
        self._notify = dict(notify or {})
        self._batch = batch
        self._audit_checkpoint = audit_checkpoint
        self._on_acted = on_acted

    def run_once(self) -> SchedulerTally:
        """One batch in one transaction; returns what was done (nothing: no check-in due)."""
        now = self._clock()
        prompted = alerted = 0
        with self._sessions.begin() as session, session.no_autoflush:
            # No autoflush: the batch's inserts and updates go out together at the
            # commit instead of before every query (the audit log still flushes its own).
            due = storage.due_checkins(session, now, self._batch)
            links = {checkin.id: self._link(checkin) for checkin in due}
            storage.load_conversations(session, [c.conversation_id for c in due])
            storage.load_cases(session, [str(link["case_id"]) for link in links.values()])
            audit_later: list[tuple[str, str]] = []
            for checkin in due:
                if checkin.state == storage.SCHEDULED:
                    self._prompt(session, checkin, links[checkin.id], now)
                    prompted += 1
                else:
                    self._miss(session, checkin, links[checkin.id], now, audit_later)
                    alerted += 1
                if self._on_acted is not None:
                    self._on_acted(prompted + alerted)
            for reference, mission in audit_later:
                audit.append(session, now, "service", "checkin.alert", reference, mission=mission)
        if alerted:
            with self._sessions() as session:
                audit.sync_checkpoint(session, self._audit_checkpoint)
        if prompted or alerted:
            log.info("check-ins acted on", extra={"count": prompted + alerted})
        return SchedulerTally(prompted, alerted)

    def run_until_idle(self, max_batches: int = 10_000) -> SchedulerTally:
        """Batches until none is due now (bounded, for tests and the benchmark)."""
        total = SchedulerTally()
        for _ in range(max_batches):
            done = self.run_once()
            total += done
            if done.acted == 0:
                break
        return total

    def _link(self, checkin: Checkin) -> dict[str, Any]:
        dek = self._cipher.open_key("checkin", checkin.id, checkin.dek_wrapped)
        link: dict[str, Any] = self._cipher.open_json(
            dek, "checkin", checkin.id, "link", checkin.link_ct
        )
        return link

    def _prompt(
        self, session: Session, checkin: Checkin, link: dict[str, Any], now: datetime
    ) -> None:
        language = str(link.get("language", "en"))
        channel, chat = conversation_chat(session, self._cipher, checkin.conversation_id)
        queue_delivery(
            session,
            self._cipher,
            channel=channel,
            kind="checkin",
            chat=chat,
            # No content: whoever holds the phone learns only that a word is expected.
            text=self._catalog.text(language, "checkin.due"),
            conversation_id=checkin.conversation_id,
            now=now,
        )
        checkin.state = storage.PROMPTED
        checkin.due_at = now + self._grace
        checkin.generation += 1
        checkin.updated_at = now

    def _miss(
        self,
        session: Session,
        checkin: Checkin,
        link: dict[str, Any],
        now: datetime,
        audit_later: list[tuple[str, str]],
    ) -> None:
        raise_alert(
            session, self._cipher, checkin, link, "missed", self._notify, now, audit_later
        )
        checkin.state = storage.MISSED
        checkin.due_at = None
        checkin.generation += 1
        checkin.updated_at = now
