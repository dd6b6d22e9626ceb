"""Two `hrd-intake serve` processes share one PostgreSQL database and one Telegram bot.

Only the lease holder polls Telegram; the other stands by. A holder that
hangs (SIGSTOP: alive, silent) is taken over once its lease expires, and
steps down when it wakes; a holder killed on the same host is taken over at
once (its pid is gone). No update is lost or recorded twice. The bot talks to the fake Bot API
server on 127.0.0.1 that the channel tests use; the processes are the real
command line, with a short lease TTL from the configuration file.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake.storage.leases import current, telegram_lease_name
from intake.storage.models import ProcessedMessage
from intake.triage.queue import list_cases, open_case
from tests.support.fake_telegram import FakeTelegram
from tests.support.serve import Serve, get, wait_until
from tests.support.setup import Setup

TOKEN = "4242:LEASE-TEST-TOKEN"
TTL = 3.0  # seconds
PACE = 0.35  # seconds between messages (each defender: one every 1.4 s)
DEFENDERS = (9101, 9102, 9103, 9104)


def script(user: int) -> list[str]:
    """A whole threat report typed as text (numbers pick choices)."""
    return [
        "/start", "1", "1", "Kenya", "1", "1,2", "1", f"details of {user}",
        "1", "1", f"contact of {user}", "1", "1", "1",
    ]  # fmt: skip


@pytest.mark.slow
def test_one_consumer_at_a_time_and_takeovers_when_the_holder_hangs_or_dies(
    postgres_setup: Setup, tmp_path: Path
) -> None:
    setup = postgres_setup
    (setup.settings.home / "config.toml").write_text(f"[leases]\nttl_seconds = {TTL}\n")
    took: dict[str, float] = {}
    with FakeTelegram(token=TOKEN) as tg:
        env = setup.env | {
            "HRD_INTAKE_TELEGRAM_TOKEN": TOKEN,
            "HRD_INTAKE_TELEGRAM_API_URL": tg.api_root,
        }
        # Given a first process holding the bot and a second one started after it,
        first = Serve(env, tmp_path / "first.stderr")
        second: Serve | None = None
        try:
            first.wait_channel("telegram", "running", 30)
            tg.wait_for(lambda t: t.calls_to("getUpdates"), 30, "the first polling")
            started = [name for name, _ in tg.calls if name != "getUpdates"]
            second = Serve(env, tmp_path / "second.stderr")
            second.wait_channel("telegram", "standby", 30)
            assert get(second.port, "/readyz")[0] == 503  # standing by: alive, not ready
            assert get(second.port, "/healthz")[0] == 200
            # only the holder talks to Telegram (the second never started its bot);
            time.sleep(TTL)
            assert [name for name, _ in tg.calls if name != "getUpdates"] == started

            # when defenders write all along,
            injected: list[int] = []
            lines = [
                (user, text)
                for step in zip(*(script(u) for u in DEFENDERS), strict=True)
                for user, text in zip(DEFENDERS, step, strict=True)
            ]

            def inject() -> None:
                for user, text in lines:
                    injected.append(tg.inject_message(user, user, text))
                    # Within the per-sender limit (a burst of 10, then 30 a minute):
                    # a limited message is answered "too fast" and dropped, by design.
                    time.sleep(PACE)

            injector = threading.Thread(target=inject, daemon=True)
            injector.start()
            wait_until(lambda: len(injected) > len(lines) // 4, 30, "a quarter of the messages")
            # the holder hangs (alive, silent): the second takes over once the lease expired;
            first.process.send_signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            second.wait_channel("telegram", "running", TTL + 15)
            took["hung holder"] = time.monotonic() - frozen_at
            # the hung one wakes up, finds its lease gone and stands by;
            first.process.send_signal(signal.SIGCONT)
            first.wait_channel("telegram", "standby", TTL + 15)
            wait_until(lambda: len(injected) > len(lines) // 2, 30, "half of the messages")
            # the new holder dies: the first, on the same host, sees it gone and takes over.
            second.kill()
            killed_at = time.monotonic()
            first.wait_channel("telegram", "running", TTL + 15)
            took["killed holder"] = time.monotonic() - killed_at
            injector.join(60)
            assert not injector.is_alive()
            tg.wait_for(lambda t: t.confirmed_offset > max(injected), 60, "every update handled")

            _, metrics = get(first.port, "/metrics")
            assert 'hrd_intake_channel_lease_held{channel="telegram"} 1' in metrics
            assert first.terminate() == 0, first.log.read_text()
        finally:
            for process in (first, second):
                if process is not None and process.process.poll() is None:
                    process.process.send_signal(signal.SIGCONT)
                    process.kill()

    print(", ".join(f"{what}: taken over in {seconds:.1f} s" for what, seconds in took.items()))
    # Then every message is recorded once, every report complete with its own words,
    with setup.sessions() as session:
        recorded = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "telegram")
        )
        assert recorded == len(set(injected)) == len(lines)
        cases = list_cases(session)
        details = sorted(
            open_case(session, setup.cipher, c.reference, setup.recovery).payload["answers"][
                "details"
            ]
            for c in cases
        )
        lease = current(session, telegram_lease_name(TOKEN))
    missing = [user for user in DEFENDERS if f"details of {user}" not in details]
    assert not missing, "\n\n".join(f"{user}:\n{tg.transcript(user)}" for user in missing)
    assert details == sorted(f"details of {user}" for user in DEFENDERS)
    # the lease changed hands twice, and the clean stop released it.
    assert lease is not None and lease.generation == 3 and lease.holder is None
    assert tg.errors == []
