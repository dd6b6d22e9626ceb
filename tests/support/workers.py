"""Worker processes for the concurrency tests: the real code paths, in separate processes.

    python -m tests.support.workers claims OFFICER_ID[:desc] OUT GO
    python -m tests.support.workers deliveries CHANNEL OUT GO
    python -m tests.support.workers checkins NOW[|stall=N] OUT GO

The setup comes from the environment (`HRD_INTAKE_HOME`,
`HRD_INTAKE_DATABASE_URL`), as for `hrd-intake`. Each worker writes
`OUT.ready`, waits for the file GO (so that all start together), then
writes one line per outcome to OUT, flushed as it goes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from intake.config import load_settings
from intake.core import app, background, desks
from intake.errors import OfficerRefused
from intake.storage import audit
from intake.storage.models import Case, Delivery
from intake.triage import actions as triage
from intake.triage.officers import active_officer

DEADLINE = 120.0  # seconds a worker may take before it gives up (a bug, not a slow machine)


def _start_together(out: Path, go: Path) -> None:
    out.with_suffix(".ready").touch()
    deadline = time.monotonic() + DEADLINE
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.01)


def claims(subject: str, out: Path, go: Path) -> None:
    """Claim every case of the officer's mission, one transaction each, as `queue claim` does.

    `subject` is the officer's id, with `:desc` to go through the cases backwards.
    """
    officer_id, _, order = subject.partition(":")
    settings = load_settings()
    engine, sessions = desks.open_database(settings, require_schema=True)
    with sessions() as session:
        officer = active_officer(session, officer_id)
        references = list(
            session.scalars(
                select(Case.reference)
                .where(Case.mission_id == officer.mission_id)
                .order_by(Case.reference.desc() if order == "desc" else Case.reference)
            )
        )
    _start_together(out, go)
    with out.open("w", encoding="utf-8") as lines:
        for reference in references:
            try:
                with sessions.begin() as session:
                    case = triage.find_case(session, reference, officer)
                    triage.claim(session, case, officer, desks.utcnow())
                outcome = "claimed"
            except OfficerRefused:
                outcome = "refused"
            with sessions() as session:
                audit.sync_checkpoint(session, settings.audit_checkpoint)
            lines.write(f"{reference} {outcome}\n")
            lines.flush()
    engine.dispose()


def deliveries(channel: str, out: Path, go: Path) -> None:
    """Send (here: write down) what the channel's queue holds, as a channel worker does."""
    settings = load_settings()
    engine, sessions = desks.open_database(settings, require_schema=True)
    service = app.build_service(settings, sessions, desks.build_cipher(settings, sessions))
    _start_together(out, go)
    deadline = time.monotonic() + DEADLINE
    with out.open("w", encoding="utf-8") as lines:
        while time.monotonic() < deadline:
            claimed = service.claim_deliveries(channel, limit=10)
            if not claimed:
                with sessions() as session:
                    left = session.scalar(
                        select(func.count())
                        .select_from(Delivery)
                        .where(Delivery.channel == channel)
                    )
                if not left:
                    break
                time.sleep(0.01)  # the rest is claimed by other workers
                continue
            for delivery in claimed:
                lines.write(f"{delivery.id} {delivery.text}\n")
                lines.flush()
                service.delivered(delivery)
        else:
            raise SystemExit("deliveries left after the deadline")
    engine.dispose()


def checkins(subject: str, out: Path, go: Path) -> None:
    """Run the check-in scheduler at the time NOW until nothing is due, in batches of 5.

    With `|stall=N`, stop dead after acting on N check-ins inside a batch's
    transaction (writing `OUT.stalled`) and wait to be killed.
    """
    from datetime import datetime

    from intake.core.checkin_scheduler import CheckinScheduler

    moment, _, option = subject.partition("|")
    now = datetime.fromisoformat(moment)
    stall = int(option.removeprefix("stall=")) if option else None

    def stop_dead(acted: int) -> None:
        if stall is not None and acted >= stall:
            out.with_suffix(".stalled").touch()
            time.sleep(DEADLINE)
            raise SystemExit("never killed")

    settings = load_settings()
    engine, sessions = desks.open_database(settings, require_schema=True)
    scheduler = background.build_checkin_scheduler(
        settings, sessions, desks.build_cipher(settings, sessions), lambda: now
    )
    scheduler = CheckinScheduler(
        sessions,
        desks.build_cipher(settings, sessions),
        scheduler._catalog,
        lambda: now,
        grace=scheduler._grace,
        batch=5,
        audit_checkpoint=settings.audit_checkpoint,
        on_acted=stop_dead,
    )
    _start_together(out, go)
    with out.open("w", encoding="utf-8") as lines:
        while True:
            done = scheduler.run_once()
            if done.acted == 0:
                break
            lines.write(f"prompted {done.prompted} alerted {done.alerted}\n")
            lines.flush()
    engine.dispose()


def main(argv: list[str]) -> None:
    command, subject, out, go = argv
    jobs = {"claims": claims, "deliveries": deliveries, "checkins": checkins}
    jobs[command](subject, Path(out), Path(go))


if __name__ == "__main__":
    main(sys.argv[1:])
