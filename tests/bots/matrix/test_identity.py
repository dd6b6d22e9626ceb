"""The bot's cross-signed identity on a real Synapse: published, kept, re-signed.

Element's only-cross-signed-devices mode talks to the bot only if the bot's
device carries a valid signature by the bot's self-signing key, itself
signed by its master key. We read what the homeserver publishes, as any
defender's client does.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from bots.matrix.crosssigning import UserKeys, read_query
from bots.matrix.identity import fingerprint
from bots.matrix.state import MatrixState
from intake.storage.channel_state import ChannelStateStore
from tests.bots.matrix.harness import new_user, running_bot
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]


def _published(synapse: Synapse, token: str, user: str) -> tuple[UserKeys, dict[str, object]]:
    answer = synapse.request(
        "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user: []}}, token=token
    )
    return read_query(answer, [user])[user], answer["device_keys"][user]


def test_the_bot_cross_signs_its_device_and_keeps_its_identity(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = primary_setup
    bot_id = new_user(synapse, "bot")
    _, watcher = synapse.register(f"watcher-{bot_id[5:13]}", "pw")

    async def start_and_stop(store: Path) -> str:
        async with running_bot(setup, synapse, bot_id, store) as channel:
            for _ in range(300):
                if channel.identity is not None:
                    break
                await asyncio.sleep(0.1)
            assert channel.identity is not None, "the identity was never published"
            return channel.identity.master_public

    # Given a first start: keys made, published, the device signed.
    master = asyncio.run(start_and_stop(tmp_path / "store"))
    keys, devices = _published(synapse, watcher, bot_id)
    assert keys.master == master
    assert len(devices) == 1 and set(keys.signed) == set(devices)

    # When the bot restarts, or a standby on another host with its own working
    # folder takes the account over: the same device and identity (all in the database).
    state = MatrixState(ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock))
    first_device = state.session()
    assert asyncio.run(start_and_stop(tmp_path / "standby-folder")) == master
    assert state.session() == first_device
    assert not (tmp_path / "standby-folder").exists()

    # When its device is new (a fresh login, as after losing the session): the
    # same master key signs the new device too.
    state.forget_session()
    assert asyncio.run(start_and_stop(tmp_path / "store-2")) == master
    keys, devices = _published(synapse, watcher, bot_id)
    assert keys.master == master
    assert len(devices) == 2
    new_device = state.session()
    assert new_device is not None and new_device.device_id in keys.signed


def _identity_cli(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **setup.env}
    return subprocess.run(
        [sys.executable, "-m", "intake", "matrix", "identity", *args],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        timeout=60,
    )


def test_identity_cli_prints_the_published_identity_and_writes_qr_codes(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = primary_setup
    # Before the bot ever started: a setup problem, said as such (exit 3).
    missing = _identity_cli(setup)
    assert missing.returncode == 3 and "hrd-intake serve" in missing.stderr

    bot_id = new_user(synapse, "bot")

    async def start() -> str:
        async with running_bot(setup, synapse, bot_id, tmp_path / "store") as channel:
            for _ in range(300):
                if channel.identity is not None:
                    return channel.identity.master_public
                await asyncio.sleep(0.1)
        raise AssertionError("the identity was never published")

    master = asyncio.run(start())
    out = tmp_path / "web"
    shown = _identity_cli(setup, "--out", str(out), "--json")
    assert shown.returncode == 0, shown.stderr
    value = json.loads(shown.stdout)
    assert value["user_id"] == bot_id and value["master_key"] == master
    assert value["master_key_fingerprint"].replace(" ", "") == master
    assert quote(master, safe="") in value["link"] and bot_id in value["link"]
    assert (out / "identity.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (out / "identity.svg").read_text()
    human = _identity_cli(setup, "--out", str(out))
    assert fingerprint(master) in human.stdout and bot_id in human.stdout
    assert "█" in human.stdout or "▀" in human.stdout  # the terminal QR code
