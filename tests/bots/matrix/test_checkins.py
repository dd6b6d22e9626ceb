"""Safety check-ins on Matrix: a real Synapse, the bot in-process, a matrix-nio defender (E2EE).

The scheduler runs in the test on the test clock, as `serve` runs it beside
the channel; the prompt reaches the defender's encrypted room through the
channel's ordinary delivery worker.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bots.deliveries import DeliveryTiming
from tests.bots.matrix.harness import new_defender, new_user, running_bot
from tests.support.checkins import DURESS, WORD, alert_cases, cheap, scheduler
from tests.support.deliveries import pending_deliveries
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]  # the session-wide `synapse` fixture

FAST = DeliveryTiming(interval=0.3, base_backoff=0.1, max_backoff=1.0)
DUE = "Time to check in: reply with your word."


def _redacted(events: list[dict[str, Any]], event_id: str) -> bool:
    return any(
        e["event_id"] == event_id and "redacted_because" in e.get("unsigned", {}) for e in events
    )


def test_a_check_in_prompted_answered_and_missed_on_matrix(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = cheap(primary_setup)
    bot_id = new_user(synapse, "bot")

    async def scenario() -> None:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(setup, synapse, bot_id, tmp_path / "bot-store", deliveries=FAST):
                room = await defender.create_dm(bot_id)
                await defender.say(room, "hello", expect="What would you like to do?")
                for text in ("3", "1", "Hearing at 10:00", "My lawyer", "Kenya", "1", "2", "2"):
                    await defender.say(room, text)
                await defender.send_text(room, WORD)
                await defender.wait(
                    lambda: any("duress word" in b for b in defender.bodies(room)), what="duress"
                )
                await defender.say(room, DURESS)
                await defender.say(room, "1", expect="Your check-in is set")

                # When it is due, the bot asks in the encrypted room; the word confirms.
                setup.clock.advance(hours=2)
                assert (await asyncio.to_thread(scheduler(setup).run_once)).prompted == 1
                await defender.wait(lambda: DUE in defender.bodies(room), what="the prompt")
                for _ in range(50):
                    if await asyncio.to_thread(pending_deliveries, setup) == 0:
                        break
                    await asyncio.sleep(0.1)
                [prompt] = [m.event_id for m in defender.received[room] if m.body == DUE]
                await defender.say(room, WORD, expect="you are checked in")
                # The answer wiped the chat: the prompt is redacted from the room.
                for _ in range(50):
                    if _redacted(defender.raw_events(room), prompt):
                        break
                    await asyncio.sleep(0.1)
                assert _redacted(defender.raw_events(room), prompt)

                # When the next goes unanswered past the grace period, the case is raised.
                setup.clock.advance(hours=2)
                await asyncio.to_thread(scheduler(setup).run_once)
                setup.clock.advance(minutes=31)
                assert (await asyncio.to_thread(scheduler(setup).run_once)).alerted == 1
        finally:
            await defender.close()

    asyncio.run(scenario())
    [case] = alert_cases(setup)
    assert (case.kind, case.urgency, case.mission_id) == ("missed_checkin", "immediate", "eu-del-ke")
