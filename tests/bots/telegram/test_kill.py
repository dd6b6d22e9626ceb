"""`hrd-intake serve` killed with SIGKILL again and again loses and duplicates nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.storage.models import ProcessedMessage
from intake.triage.queue import list_cases, open_case
from tests.bots.conftest import TELEGRAM_TOKEN
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup

KILLS = 20
DEFENDERS = (7001, 7002, 7003, 7004, 7005, 7006)


def script(user: int) -> list[str]:
    """A whole threat report typed as text (numbers pick choices)."""
    return [
        "/start",
        "1",  # report a threat
        "1",  # consent: yes
        "Kenya",
        "1",  # me
        "1,2",  # intimidation, harassment
        "1",  # still happening
        f"details of {user}",
        "1",  # no files: skip
        "1",  # immediate danger
        f"contact of {user}",
        "1",  # confidential
        "1",  # share with the UN: yes
        "1",  # send
    ]


def serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "intake", "serve"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def polls(tg: FakeTelegram) -> int:
    return len(tg.calls_to("getUpdates"))


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    primary_setup: Setup, telegram_fake: FakeTelegram, tmp_path: Path
) -> None:
    tg, rng = telegram_fake, random.Random(1234)
    env = os.environ | primary_setup.env
    env |= {"HRD_INTAKE_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "HRD_INTAKE_TELEGRAM_API_URL": tg.api_root}
    stderr = tmp_path / "serve.stderr"

    # Given a slowish Telegram (each send takes 30 ms: batches take a while to answer)
    # and defenders who keep writing, one message every 0.3 s in turn.
    tg.delay("sendMessage", 0.03)
    injected: list[int] = []
    lines = [
        (user, text)
        for step in zip(*(script(u) for u in DEFENDERS), strict=True)
        for user, text in zip(DEFENDERS, step, strict=True)
    ]

    def inject() -> None:
        for user, text in lines:
            injected.append(tg.inject_message(user, user, text))
            time.sleep(0.3)

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()

    # When the service is killed at random points while it works, and restarted.
    in_flight = 0  # kills while updates were fetched but not yet acknowledged
    for kill in range(KILLS):
        before = polls(tg)
        process = serve(env, stderr)
        try:
            tg.wait_for(lambda t, n=before: polls(t) > n, 20, "the service polling")
            if kill % 2:  # anywhere
                time.sleep(rng.uniform(0.0, 0.5))
            else:  # while a batch is in hand: fetched, not yet acknowledged
                with suppress(AssertionError):
                    tg.wait_for(lambda t: t.pending_updates(), 1.0)
                time.sleep(rng.uniform(0.0, 0.06))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        in_flight += bool(tg.pending_updates())
    injector.join(60)
    assert not injector.is_alive()

    # Then a last run answers everything and stops cleanly on SIGTERM.
    before = polls(tg)
    process = serve(env, stderr)
    try:
        tg.wait_for(lambda t: polls(t) > before, 20, "the service polling")
        tg.wait_for(lambda t: t.confirmed_offset > max(injected), 30, "every update acknowledged")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, stderr.read_text()

    with primary_setup.sessions() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "telegram")
        )
        assert recorded == len(set(injected)) == len(lines)
        cases = list_cases(session)
        assert [case.mission for case in cases] == ["eu-del-ke"] * len(DEFENDERS)
        answers = [
            open_case(session, primary_setup.cipher, c.reference, primary_setup.recovery).payload
            for c in cases
        ]
    details = sorted(str(payload["answers"]["details"]) for payload in answers)
    assert details == sorted(f"details of {user}" for user in DEFENDERS)
    assert tg.errors == []
    # And a good share of the kills hit a batch in hand (fetched, not yet acknowledged).
    assert in_flight >= KILLS // 3, f"only {in_flight} kills hit unacknowledged updates"
