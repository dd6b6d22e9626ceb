"""PostgreSQL unreachable for 30 seconds in the middle of a stream of messages.

A loop plays a channel as the Telegram and Matrix adapters behave: it hands
the core one batch at a time, and when `handle_batch` raises it keeps the
batch (unacknowledged: the platform would send it again), tells each
defender of that batch once that the bot will answer shortly, and retries
with a capped backoff. The database sits behind a TCP proxy the test cuts:
open connections reset, new ones refused, as when the server stops.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from intake.core import app, desks
from intake.core.service import ConversationService
from intake.messages import Inbound, Reply
from intake.storage.models import ProcessedMessage
from intake.triage.queue import list_cases, open_case
from tests.support.databases import through_port
from tests.support.defender import threat_report
from tests.support.setup import Setup
from tests.support.tcp_proxy import TcpProxy

OUTAGE = 30.0  # seconds
DEFENDERS = 8
PACE = 0.2  # seconds between batches, as messages trickle in


def conversations() -> list[list[Inbound]]:
    """Each defender's whole threat report, as the messages a platform delivers."""
    result = []
    for n in range(DEFENDERS):
        steps = [("say", "/start"), *threat_report(details=f"details of defender {n}")]
        result.append(
            [
                Inbound(
                    channel="telegram",
                    sender=f"outage-sender-{n}",
                    chat=f"outage-chat-{n}",
                    message_id=f"{n}-{i}",
                    text=value if action == "say" else None,
                    choice=value if action == "choose" else None,
                )
                for i, (action, value) in enumerate(steps)
            ]
        )
    return result


class PlayedChannel:
    """Feeds batches to the core like a channel: retry until recorded, tell each defender once."""

    def __init__(self, service: ConversationService) -> None:
        self.service = service
        self.told: Counter[str] = Counter()  # back-shortly notices per defender
        self.texts: dict[str, list[str]] = {}  # what each defender was sent
        self.failures = 0

    def deliver(self, batch: list[Inbound], deadline: float) -> None:
        told_now: set[str] = set()
        attempt = 0
        while True:
            try:
                results = self.service.handle_batch(batch)
                break
            except SQLAlchemyError:
                # Nothing of the batch was committed: it stays unacknowledged and comes again.
                self.failures += 1
                assert time.monotonic() < deadline, "the core never recovered"
                for message in batch:
                    if message.sender not in told_now:
                        told_now.add(message.sender)
                        self.told[message.sender] += 1
                        self.service.notice("back_shortly")  # no database needed
                attempt += 1
                time.sleep(min(2.0, 0.05 * 2**attempt))
        for message, replies in zip(batch, results, strict=True):
            texts = self.texts.setdefault(message.sender, [])
            texts.extend(r.text for r in replies if isinstance(r, Reply))


@pytest.mark.slow
def test_thirty_seconds_without_postgresql_lose_and_duplicate_nothing(
    postgres_setup: Setup,
) -> None:
    setup = postgres_setup
    with TcpProxy(5432) as proxy:
        # Given a service that reaches PostgreSQL through the proxy,
        settings = setup.settings.model_copy(
            update={"database_url": through_port(setup.settings.database_url, proxy.port)}
        )
        engine, sessions = desks.open_database(settings)
        service = app.build_service(
            settings, sessions, desks.build_cipher(settings, sessions), clock=setup.clock
        )
        channel = PlayedChannel(service)
        scripts = conversations()
        rounds = [
            [script[i] for script in scripts if i < len(script)]
            for i in range(max(map(len, scripts)))
        ]

        # when the database disappears for 30 s a second into the stream,
        def outage() -> None:
            time.sleep(1.0)
            proxy.pause()
            time.sleep(OUTAGE)
            proxy.resume()

        cut = threading.Thread(target=outage, daemon=True)
        cut.start()
        deadline = time.monotonic() + OUTAGE + 60
        failed_round: list[Inbound] | None = None
        for batch in rounds:
            failures = channel.failures
            channel.deliver(batch, deadline)
            if channel.failures > failures and failed_round is None:
                failed_round = batch
            time.sleep(PACE)
        cut.join(OUTAGE + 5)
        # and the platform, never told of the batch that failed, sends it once more,
        assert failed_round is not None, "the outage hit no batch"
        channel.deliver(failed_round, deadline)
        engine.dispose()

    # then the outage was real and each defender in it was told once,
    assert proxy.refused > 0
    [errors] = [f for f in service.metrics.families() if f.name == "hrd_intake_errors"]
    assert [(s.name, s.labels, s.value) for s in errors.samples] == [
        ("hrd_intake_errors_total", {"kind": "database"}, channel.failures)
    ]
    assert set(channel.told) == {m.sender for m in failed_round}
    assert set(channel.told.values()) == {1}
    # every message is recorded once,
    sent = sum(len(script) for script in scripts)
    with setup.sessions() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "telegram")
        )
        assert recorded == sent
        # and every conversation completed into its case, with its own words.
        cases = list_cases(session)
        details = sorted(
            open_case(session, setup.cipher, c.reference, setup.recovery).payload["answers"][
                "details"
            ]
            for c in cases
        )
    assert details == sorted(f"details of defender {n}" for n in range(DEFENDERS))
    for n in range(DEFENDERS):
        assert any("HRD-" in text for text in channel.texts[f"outage-sender-{n}"])
