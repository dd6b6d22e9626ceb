"""`serve` with Signal beside Telegram: `/readyz` and `/metrics` name what is wrong with signal-cli,
and the other channel keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bots.conftest import TELEGRAM_TOKEN
from tests.bots.signal.conftest import signal_env
from tests.support.fake_signal import FakeSignal
from tests.support.fake_telegram import FakeTelegram
from tests.support.serve import Serve, get, readiness, wait_until
from tests.support.setup import Setup


def signal_fault(serve: Serve) -> str | None:
    fault = serve.channel("signal").get("fault")
    return None if fault is None else str(fault)


def fault_metric(serve: Serve, fault: str) -> bool:
    _, body = get(serve.port, "/metrics")
    return f'hrd_intake_channel_fault{{channel="signal",fault="{fault}"}} 1.0' in body


@pytest.mark.slow
def test_readiness_and_metrics_name_signal_faults_while_telegram_runs_on(
    primary_setup: Setup, signal_fake: FakeSignal, telegram_fake: FakeTelegram, tmp_path: Path
) -> None:
    sig, tg = signal_fake, telegram_fake
    env = primary_setup.env | signal_env(sig)
    env |= {"HRD_INTAKE_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "HRD_INTAKE_TELEGRAM_API_URL": tg.api_root}
    serve = Serve(env, tmp_path / "serve.stderr")
    try:
        serve.wait_channel("signal", "running", 30)
        wait_until(lambda: readiness(serve.port).get("ready"), 30, "ready")

        for cause, fault in [
            (lambda: sig.stop(), "daemon_unreachable"),
            (lambda: (sig.set_fault("unregistered"), sig.start()), "account_unregistered"),
            (lambda: (sig.set_fault("outdated"), sig.restart()), "client_outdated"),
        ]:
            # When signal-cli goes away, loses its account, or is refused as outdated.
            cause()
            # Then readiness and the metric say which, and the process is not ready.
            wait_until(lambda f=fault: signal_fault(serve) == f, 30, f"{fault} in /readyz")
            assert readiness(serve.port)["ready"] is False
            assert fault_metric(serve, fault)
            # And Telegram still answers.
            update = tg.inject_message(4242, 4242, "/start")
            tg.wait_for(lambda t, u=update: t.confirmed_offset > u, 30, "telegram answering")

        # When signal-cli works again, so does the channel, without a restart of serve.
        sig.set_fault(None)
        wait_until(lambda: readiness(serve.port).get("ready"), 60, "ready again")
        assert signal_fault(serve) is None
        stamp = sig.inject("aci-health", "/start")
        sig.wait_for(lambda f: stamp in f.read_receipts("aci-health"), 30, "signal answering")
    finally:
        assert serve.terminate() == 0, (tmp_path / "serve.stderr").read_text()[-2000:]
