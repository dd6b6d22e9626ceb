"""`/healthz`, `/readyz`, `/metrics` served on loopback by `StatusServer`, on real databases."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets

import aiohttp
import pytest

from intake.config import load_settings
from intake.core import app
from intake.runtime.health import ChannelState, Health
from intake.runtime.http import StatusServer
from intake.runtime.metrics import LogCounter, ServiceMetrics
from intake.storage.engine import make_engine, make_session_factory
from tests.support.defender import Defender, play, threat_report
from tests.support.setup import Setup

SAMPLE = re.compile(r"^(hrd_intake_[a-z_]+)(\{[^}]*\})? (-?[0-9.e+-]+)$")


def parse(body: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value}; every line must be a comment or a sample."""
    samples = {}
    for line in body.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        samples[f"{match[1]}{match[2] or ''}"] = float(match[3])
    return samples


async def fetch(port: int, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


def test_probes_and_metrics_say_what_runs_and_nothing_of_who(setup: Setup) -> None:
    # Given a service that recorded a defender's whole threat report,
    metrics = ServiceMetrics()
    service = app.build_service(
        setup.settings, setup.sessions, setup.cipher, clock=setup.clock, metrics=metrics
    )
    sender = f"CANARY-SENDER-{secrets.token_hex(6)}"
    details = f"CANARY-DETAIL-{secrets.token_hex(6)}"
    defender = Defender(service, sender=sender, channel="telegram")
    defender.send("/start")
    play(defender, threat_report(details=details))
    defender.send("/start", message_id=defender.sent_ids[-1])  # a redelivery
    counter = LogCounter()
    logging.getLogger("tests.http").addHandler(counter)
    logging.getLogger("tests.http").warning("something odd")
    health = Health(setup.sessions)
    telegram = health.channel("telegram")

    async def scenario() -> None:
        server = StatusServer(
            "127.0.0.1", 0, health, setup.sessions, [metrics, counter], setup.clock
        )
        await server.start()
        try:
            # liveness is unconditional;
            assert (await fetch(server.port, "/healthz"))[0] == 200
            # readiness waits for the channel to run with its lease;
            status, _, body = await fetch(server.port, "/readyz")
            assert status == 503 and '"state": "starting"' in body
            telegram.set(ChannelState.STANDBY, lease_held=False)
            assert (await fetch(server.port, "/readyz"))[0] == 503
            telegram.set(ChannelState.RUNNING, lease_held=True, generation=1)
            status, kind, body = await fetch(server.port, "/readyz")
            assert (
                status == 200 and kind.startswith("application/json") and '"database": true' in body
            )
            # (the Kenyan case waits where no officer can open it: said, yet still ready)
            assert json.loads(body)["unreadable_cases"] == {"eu-del-ke": 1}
            # and the metrics count messages, cases, states, keys: never content or identities.
            status, kind, body = await fetch(server.port, "/metrics")
            assert status == 200 and kind.startswith("text/plain; version=0.0.4")
            assert sender not in body and details not in body and "CANARY" not in body
            samples = parse(body)
            assert samples['hrd_intake_messages_total{channel="telegram"}'] == 14
            assert samples['hrd_intake_duplicate_messages_total{channel="telegram"}'] == 1
            key = 'hrd_intake_cases_submitted_total{kind="threat_report",mission="eu-del-ke"}'
            assert samples[key] == 1
            key = 'hrd_intake_queue_cases{kind="threat_report",mission="eu-del-ke",status="new"}'
            assert samples[key] == 1
            # Conversations are wrapped under draft-epoch keys, not a KEK version.
            assert 'hrd_intake_keyring_records{table="conversations",version="1"}' not in samples
            assert samples['hrd_intake_channel_lease_held{channel="telegram"}'] == 1
            assert samples['hrd_intake_channel_running{channel="telegram"}'] == 1
            assert samples["hrd_intake_database_up"] == 1
            assert samples['hrd_intake_unreadable_cases{mission="eu-del-ke"}'] == 1
            key = 'hrd_intake_log_records_total{level="warning",logger="tests.http"}'
            assert samples[key] == 1
        finally:
            await server.stop()

    try:
        asyncio.run(scenario())
    finally:
        logging.getLogger("tests.http").removeHandler(counter)


def test_an_unreachable_database_is_not_ready_but_alive(setup: Setup) -> None:
    # A PostgreSQL URL on a port where nothing listens: a real, failing connection.
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
    sessions = make_session_factory(engine)
    health = Health(sessions)

    async def scenario() -> None:
        server = StatusServer("127.0.0.1", 0, health, sessions, [ServiceMetrics()], setup.clock)
        await server.start()
        try:
            assert (await fetch(server.port, "/healthz"))[0] == 200
            status, _, body = await fetch(server.port, "/readyz")
            assert status == 503 and '"database": false' in body
            status, _, body = await fetch(server.port, "/metrics")
            assert status == 200 and parse(body)["hrd_intake_database_up"] == 0
        finally:
            await server.stop()

    asyncio.run(scenario())
    engine.dispose()


def test_the_address_stays_on_loopback_unless_allowed(setup: Setup) -> None:
    env = {**setup.env, "HRD_INTAKE_HTTP_ADDR": "0.0.0.0:9100"}
    with pytest.raises(Exception, match="not on loopback"):
        load_settings(env)
    config = setup.settings.home / "public.toml"
    config.write_text("[http]\nallow_public = true\n")
    assert load_settings({**env, "HRD_INTAKE_CONFIG": str(config)}).http_addr == "0.0.0.0:9100"
    assert load_settings({**setup.env, "HRD_INTAKE_HTTP_ADDR": "[::1]:9100"}).http_addr
    with pytest.raises(Exception, match="host:port"):
        load_settings({**setup.env, "HRD_INTAKE_HTTP_ADDR": "9100"})
