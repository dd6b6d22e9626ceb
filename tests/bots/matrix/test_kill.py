"""SIGKILL `hrd-intake serve` at random points while a defender writes over Matrix.

Given the bot running as operators run it (a subprocess of `python -m intake
serve`) and a defender in an encrypted room, the defender answers a threat
report while the bot is killed (SIGKILL) and restarted at least ten times at
random moments: during start-up, sync, decryption, the core's transaction,
sending, saving the token. Then every message is recorded exactly once, the
bot still decrypts, and the report completes with exactly the answers sent.
A canary check runs over everything the bot left on disk.

Seed: `HRD_TEST_SEED` replays a run (the seed is printed on failure).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, select, text

from intake.storage.models import Case, ProcessedMessage
from tests.bots.matrix.harness import (
    MatrixDefender,
    matrix_env,
    new_defender,
    new_user,
    open_case_with_recovery,
)
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]  # the session-wide `synapse` fixture

KILLS = 10
MENU = "What would you like to do?"
REFERENCE = "Your reference is"


def _serve(env: dict[str, str], output: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "intake", "serve"],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_sigkill_at_random_points_loses_nothing(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = primary_setup
    seed = int(os.environ.get("HRD_TEST_SEED", secrets.randbits(32)))
    rng = random.Random(seed)
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    contact = f"CANARY-CONTACT-{secrets.token_hex(6)}"
    # A threat report answered by numbers, as a defender types them.
    script = ["hello", "1", "1", "Kenya", "1", "1, 2", "2", details, "1", "1", contact]
    script += ["1", "2", "1"]
    bot_id = new_user(synapse, "bot")
    store = tmp_path / "bot-store"
    env = {
        **os.environ,
        **matrix_env(setup, synapse, bot_id, store),
        "HRD_INTAKE_LOG_LEVEL": "DEBUG",
    }
    output_path = tmp_path / "serve.out"
    kills = 0

    async def scenario() -> tuple[MatrixDefender, str]:
        nonlocal kills
        defender = await new_defender(synapse, tmp_path / "defender-store")
        with open(output_path, "ab") as output:
            bot = _serve(env, output)
            try:
                room = await defender.create_dm(bot_id)
                # First exchange with the bot up: it has logged in (its one device) and
                # the defender has shared the room key with that device.
                await defender.say(room, script[0], expect=MENU)

                async def killer() -> None:
                    nonlocal bot, kills
                    while kills < KILLS:
                        await asyncio.sleep(rng.uniform(0.3, 3.5))
                        _kill(bot)
                        kills += 1
                        await asyncio.sleep(rng.uniform(0.0, 0.6))
                        bot = _serve(env, output)

                killing = asyncio.create_task(killer())
                for answer in script[1:]:
                    await defender.send_text(room, answer)
                    await _idle(defender, rng.uniform(0.3, 1.8))
                await killing
                reference = await _submitted(setup, defender)
                # The bot, up again, answers and knows the case (normally the
                # reference came already, from the answers' outbox).
                # ("HRD-...: new (since ...)" is the status line, not the reference message.)
                await defender.say(room, f"/status {reference}", expect=f"{reference}:")
                # A clean stop too: SIGTERM ends the channel and the process with 0.
                bot.send_signal(signal.SIGTERM)
                assert bot.wait(timeout=20) == 0
                return defender, room
            finally:
                _kill(bot)
                await defender.close()

    try:
        defender, room = asyncio.run(scenario())
    except BaseException:
        print(f"seed {seed}; bot output:\n{output_path.read_text(errors='replace')[-4000:]}")
        raise
    assert kills >= KILLS

    with setup.sessions() as session:
        # Every message recorded exactly once (the table's key refuses a second record).
        recorded = session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.channel == "matrix")
        )
        assert recorded == len(script) + 1, f"seed {seed}"  # and the /status
        [case] = session.scalars(select(Case)).all()
        assert case.mission_id == "eu-del-ke"
        session.execute(text("select 1"))
        on_disk = files_under(setup.settings.home, store, output_path)
    # ...and each answer applied once, in order: the report holds exactly what was sent.
    answers = open_case_with_recovery(setup, case.reference).payload["answers"]
    assert answers["details"] == details and answers["contact"] == contact

    log = setup.settings.log_path.read_text()
    assert "could not be decrypted" not in log
    assert "matrix login: new device" in log and log.count("matrix login: new device") == 1
    # Canaries: nothing the defender wrote is on disk (database, WAL, log, nio
    # store); no Matrix identity is in the database or the log.
    if setup.engine.dialect.name == "sqlite":  # on PostgreSQL the rows are in the server
        assert any(p.name.endswith("-wal") for p in on_disk)
    assert leaks([details, contact], on_disk) == []
    identities = [bot_id, defender.user_id, room, defender.token]
    assert leaks(identities, files_under(setup.settings.home)) == []
    assert leaks(identities, [output_path]) == []


async def _idle(defender: MatrixDefender, seconds: float) -> None:
    """Let time pass while the defender's client keeps syncing (keys, decryption)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        await defender.sync(timeout_ms=int(max(0.0, deadline - loop.time()) * 1000))


async def _submitted(setup: Setup, defender: MatrixDefender, timeout: float = 90) -> str:
    """The reference of the case once the bot has recorded the report."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with setup.sessions() as session:
            reference = session.scalar(select(Case.reference))
        if reference is not None:
            return reference
        await defender.sync(timeout_ms=500)
    raise AssertionError("the report did not complete after the kills")
