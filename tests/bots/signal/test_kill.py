"""`hrd-intake serve` on Signal killed with SIGKILL again and again: nothing kept is lost or doubled.

signal-cli lets go of a message once it has written it to the bot's socket
(see `bots.signal.pipeline`), so a kill can catch a notification written but
not yet read: it is gone, and it never shows as read. The defenders here do
what the first-contact notice asks: a message not marked read is sent again
(a new message, with a new timestamp). Everything the bot read is kept once
and answered; every case completes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.storage.models import InboxMessage, ProcessedMessage
from intake.triage.queue import list_cases, open_case
from tests.bots.signal.conftest import signal_env
from tests.bots.telegram.test_kill import script
from tests.support.fake_signal import FakeSignal
from tests.support.serve import Serve
from tests.support.setup import Setup

KILLS = int(os.environ.get("HRD_TEST_KILLS", "20"))
DEFENDERS = [f"00000000-0000-4000-8000-00000000{n:04d}" for n in range(1, 7)]


class Defenders:
    """Each defender types their script, one line once the previous one shows as read."""

    def __init__(self, fake: FakeSignal) -> None:
        self.fake = fake
        self.lines = {aci: script(n) for n, aci in enumerate(DEFENDERS, 1)}
        self.next = dict.fromkeys(DEFENDERS, 0)
        self.last: dict[str, tuple[int, str]] = {}  # aci -> (timestamp, text) awaiting "read"
        self.lock = threading.Lock()
        self.resent = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with self.lock:
                finished = True
                for aci in DEFENDERS:
                    if aci in self.last:
                        if self.last[aci][0] not in self.fake.read_receipts(aci):
                            finished = False
                            continue
                        del self.last[aci]
                    if self.next[aci] < len(self.lines[aci]):
                        finished = False
                        text = self.lines[aci][self.next[aci]]
                        self.next[aci] += 1
                        self.last[aci] = (self.fake.inject(aci, text), text)
                if finished:
                    self.done.set()
            time.sleep(random.uniform(0.05, 0.15))

    def state_of(self, setup: Setup, aci: str, stamp: int) -> str | None:
        digests = [
            d for _, d in setup.cipher.pseudonym_candidates("inbox:signal", f"{aci}:{stamp}")
        ]
        with setup.sessions() as session:
            return session.scalar(
                select(InboxMessage.state).where(InboxMessage.digest.in_(digests))
            )

    def resend_lost(self, setup: Setup, written: list[dict[str, object]]) -> None:
        """Messages the killed process was handed but never kept: sent again, as people do."""
        with self.lock, setup.sessions() as session:
            for envelope in written:
                aci, stamp = str(envelope["sourceUuid"]), int(str(envelope["timestamp"]))
                digests = [
                    d
                    for _, d in setup.cipher.pseudonym_candidates("inbox:signal", f"{aci}:{stamp}")
                ]
                kept = session.scalar(
                    select(func.count())
                    .select_from(InboxMessage)
                    .where(InboxMessage.digest.in_(digests))
                )
                if not kept and self.last.get(aci, (None,))[0] == stamp:
                    self.last[aci] = (self.fake.inject(aci, self.last[aci][1]), self.last[aci][1])
                    self.resent += 1


@pytest.mark.slow
@pytest.mark.timeout(900)  # 21 starts of `serve`: minutes on a busy machine
def test_sigkill_at_random_points_keeps_every_message_once(
    primary_setup: Setup, signal_fake: FakeSignal, tmp_path: Path
) -> None:
    fake, rng = signal_fake, random.Random(4321)
    env = primary_setup.env | signal_env(fake)
    stderr = tmp_path / "serve.stderr"
    # Given a slowish Signal (each send takes 30 ms: answers take a while to go out).
    fake.delay("send", 0.03)
    defenders = Defenders(fake)
    typing = threading.Thread(target=defenders.run, daemon=True)
    typing.start()

    # When the service is killed at random points while defenders write, and restarted.
    in_hand = 0  # kills with messages handed over but not yet answered and sent
    for _ in range(KILLS):
        connections, subscribed = fake.connections, fake.subscribed_total
        serve = Serve(env, stderr)
        try:
            fake.wait_for(lambda f, n=subscribed: f.subscribed_total > n, 30, "subscribed")
            time.sleep(rng.uniform(0.0, 0.8))
        finally:
            serve.kill()
        # Until the fake reads EOF it may still hand the dead connection an envelope.
        fake.wait_for(lambda f: f.live_connections == 0, 10, "the killed connections closed")
        written = fake.written_since(connections)
        with primary_setup.sessions() as session:
            open_rows = session.scalar(
                select(func.count()).select_from(InboxMessage).where(InboxMessage.state != "done")
            )
        in_hand += bool(open_rows) or any(
            e["timestamp"] not in fake.read_receipts(str(e["sourceUuid"])) for e in written
        )
        defenders.resend_lost(primary_setup, written)

    # Then a last run answers everything and stops cleanly on SIGTERM.
    serve = Serve(env, stderr)
    try:
        if not defenders.done.wait(120):
            waiting = {
                aci[-4:]: (stamp, defenders.state_of(primary_setup, aci, stamp), fake.where(stamp))
                for aci, (stamp, _) in defenders.last.items()
            }
            raise AssertionError(
                f"defenders waiting for {waiting}; serve exit {serve.process.poll()}, "
                f"pending {fake.pending()}, conns {fake.connections}, "
                f"subscribed {fake.subscribed_total}, channel {serve.channel('signal')}; "
                f"{stderr.read_text()[-3000:]}"
            )
        fake.wait_for(lambda f: f.pending() == 0, 30, "every message handed over")
        serve.wait_channel("signal", "running", 30)
    finally:
        assert serve.terminate() == 0, stderr.read_text()[-3000:]

    lines = sum(len(lines) for lines in defenders.lines.values())
    with primary_setup.sessions() as session:
        kept = session.scalar(select(func.count()).select_from(InboxMessage))
        unfinished = session.scalar(
            select(func.count()).select_from(InboxMessage).where(InboxMessage.state != "done")
        )
        processed = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "signal")
        )
        assert kept == processed == lines, (kept, processed, lines, defenders.resent)
        assert unfinished == 0
        cases = list_cases(session)
        assert [case.mission for case in cases] == ["eu-del-ke"] * len(DEFENDERS)
        answers = [
            open_case(session, primary_setup.cipher, c.reference, primary_setup.recovery).payload
            for c in cases
        ]
    details = sorted(str(payload["answers"]["details"]) for payload in answers)
    assert details == sorted(f"details of {n}" for n in range(1, 7))
    assert fake.errors == []
    # And a good share of the kills caught messages in hand.
    assert in_hand >= KILLS // 4, f"only {in_hand} kills caught messages in hand"
    print(
        f"kills with messages in hand: {in_hand}; lost in the socket and sent again: {defenders.resent}"
    )
