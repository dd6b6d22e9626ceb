"""Check-in schedulers in separate processes: two at once, and one killed in the middle.

Each worker is `tests.support.workers checkins`, the scheduler `serve` runs,
in a process of its own with the test's time. Whatever runs and dies, every
due check-in is asked exactly once and every missed one has exactly one case.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.storage.models import AuditEntry, Case, Delivery
from tests.support.checkins import checkin_script, checkin_service, count
from tests.support.defender import Defender, play
from tests.support.setup import Setup

pytestmark = pytest.mark.slow
CHECKINS = 24


def start_checkins(setup: Setup, how_many: int = CHECKINS) -> None:
    service = checkin_service(setup)
    for n in range(how_many):
        defender = Defender(service, sender=f"defender-{n}", chat=f"chat-{n}")
        defender.send("/start")
        play(defender, checkin_script())
        assert "Your check-in is set" in defender.text


def spawn(setup: Setup, tmp_path: Path, name: str, subject: str) -> tuple[subprocess.Popen[str], Path]:
    out = tmp_path / f"{name}.out"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", "checkins", subject, str(out), str(tmp_path / f"{name}.go")],
        env=os.environ | setup.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, out


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, f"worker died: {process.communicate()[1]}"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def run_together(setup: Setup, tmp_path: Path, moment: datetime, workers: int = 2) -> None:
    started = [spawn(setup, tmp_path, f"w{n}-{moment:%H%M}", moment.isoformat()) for n in range(workers)]
    for process, out in started:
        wait_for(out.with_suffix(".ready"), process)
    for _, out in started:
        out.with_suffix(".go").touch()
    for process, _ in started:
        _, errors = process.communicate(timeout=180)
        assert process.returncode == 0, errors


def prompts_per_conversation(setup: Setup) -> Counter[str | None]:
    with setup.sessions() as session:
        rows = session.execute(
            select(Delivery.conversation_id).where(Delivery.kind == "checkin")
        ).scalars()
        return Counter(rows)


def alerts(setup: Setup) -> int:
    with setup.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "checkin.alert")
            )
            or 0
        )


def test_two_workers_ask_each_check_in_once_and_raise_each_alert_once(
    postgres_setup: Setup, tmp_path: Path
) -> None:
    setup = postgres_setup
    start_checkins(setup)
    due = setup.clock() + timedelta(hours=2)
    run_together(setup, tmp_path, due)
    asked = prompts_per_conversation(setup)
    assert len(asked) == CHECKINS and set(asked.values()) == {1}
    run_together(setup, tmp_path, due + timedelta(minutes=31))
    assert count(setup, Case, Case.kind == "missed_checkin") == CHECKINS
    assert alerts(setup) == CHECKINS


def test_a_worker_killed_in_the_middle_loses_and_duplicates_nothing(
    setup: Setup, tmp_path: Path
) -> None:
    start_checkins(setup, 12)
    due = setup.clock() + timedelta(hours=2)
    for phase, moment in (("ask", due), ("miss", due + timedelta(minutes=31))):
        # Given a worker stopped dead after 3 check-ins of its first batch (not committed),
        victim, out = spawn(setup, tmp_path, f"victim-{phase}", f"{moment.isoformat()}|stall=3")
        wait_for(out.with_suffix(".ready"), victim)
        out.with_suffix(".go").touch()
        wait_for(out.with_suffix(".stalled"), victim)
        # when it is killed there and another worker runs,
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        run_together(setup, tmp_path, moment, workers=1)
    # then every check-in was asked once and has one case.
    asked = prompts_per_conversation(setup)
    assert len(asked) == 12 and set(asked.values()) == {1}
    assert count(setup, Case, Case.kind == "missed_checkin") == 12
    assert alerts(setup) == 12
