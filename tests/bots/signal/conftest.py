"""Fixtures for the Signal channel tests: the fake daemon, the channel in a thread, defenders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.deliveries import DeliveryTiming
from bots.ratelimit import RateLimiter
from bots.signal.channel import SignalChannel, build_signal
from intake.config import Settings, SignalSettings
from intake.core.inbox import DurableInbox
from intake.core.service import ConversationService
from intake.storage.models import InboxMessage
from tests.support.channel_thread import ChannelThread
from tests.support.fake_signal import FakeSignal
from tests.support.setup import Setup

ACCOUNT = "+15550100"


@pytest.fixture(params=["unix"])
def signal_fake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSignal]:
    """The fake daemon (Unix socket unless parametrised with "tcp")."""
    with FakeSignal(tmp_path / "signal-attachments", transport=request.param) as fake:
        yield fake


def signal_settings(setup: Setup, fake: FakeSignal, **signal: Any) -> Settings:
    return setup.settings.model_copy(
        update={
            "signal": SignalSettings(
                account=ACCOUNT, rpc=fake.rpc_spec, attachments=fake.attachments, **signal
            )
        }
    )


def signal_env(fake: FakeSignal) -> dict[str, str]:
    """What `serve` in a subprocess needs to reach the fake."""
    return {
        "HRD_INTAKE_SIGNAL_ACCOUNT": ACCOUNT,
        "HRD_INTAKE_SIGNAL_RPC": fake.rpc_spec,
        "HRD_INTAKE_SIGNAL_ATTACHMENTS": str(fake.attachments),
    }


SignalRunning = ChannelThread[SignalChannel]


RunSignal = Callable[..., AbstractContextManager[SignalRunning]]


@pytest.fixture
def signal_run(signal_fake: FakeSignal) -> RunSignal:
    """`with signal_run(setup, service=None, **signal_settings): ...`, as `serve` builds it.

    The rate limit is lenient unless a `limiter` is given: scripted defenders
    type faster than people.
    """

    @contextmanager
    def run(
        setup: Setup,
        service: ConversationService | None = None,
        deliveries: DeliveryTiming | None = None,
        limiter: RateLimiter | None = None,
        **signal: Any,
    ) -> Iterator[SignalRunning]:
        settings = signal_settings(setup, signal_fake, **signal)
        service = service or setup.service()
        inbox = DurableInbox(service, setup.sessions, setup.cipher, setup.clock)
        faults: list[str | None] = []
        timing = {"deliveries": deliveries} if deliveries is not None else {}
        channel = build_signal(
            settings,
            service,
            inbox,
            faults=faults.append,
            # Not `limiter or ...`: a limiter tracking no sender yet is falsy (`__len__`).
            limiter=RateLimiter(burst=1000, per_minute=6000) if limiter is None else limiter,
            base_backoff=0.05,
            max_backoff=0.5,
            **timing,
        )
        running = SignalRunning(channel, "signal-channel")
        running.faults = faults
        running.start()
        try:
            signal_fake.wait_for(lambda f: f.subscribed_total, 10, "the channel subscribing")
            yield running
        finally:
            running.stop()

    return run


def unfinished(setup: Setup) -> int:
    """Inbox rows not yet answered and sent."""
    with setup.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(InboxMessage).where(InboxMessage.state != "done")
            )
            or 0
        )


class SignalDefender:
    """A defender writing to the bot; each action waits until it is kept, answered and sent."""

    def __init__(self, fake: FakeSignal, setup: Setup, aci: str) -> None:
        self.fake, self.setup, self.aci = fake, setup, aci

    def settle(self, stamp: int, timeout: float = 15.0) -> int:
        self.fake.wait_for(lambda f: stamp in f.read_receipts(self.aci), timeout, "read receipt")
        self.fake.wait_for(lambda f: unfinished(self.setup) == 0, timeout, "answers sent")
        return stamp

    def say(self, text: str, wait: bool = True) -> int:
        stamp = self.fake.inject(self.aci, text)
        return self.settle(stamp) if wait else stamp

    def send_file(
        self, data: bytes, media_type: str = "image/jpeg", name: str | None = None
    ) -> int:
        stamp = self.fake.inject(self.aci, None, attachments=[(data, media_type, name)])
        return self.settle(stamp)

    def texts(self) -> list[str]:
        return self.fake.texts(self.aci)

    def last_text(self) -> str:
        texts = self.texts()
        return texts[-1] if texts else ""


@pytest.fixture
def signal_defender(signal_fake: FakeSignal) -> Callable[..., SignalDefender]:
    def make(setup: Setup, aci: str = "5d2c7b1e-0000-4000-8000-00000000beef") -> SignalDefender:
        return SignalDefender(signal_fake, setup, aci)

    return make
