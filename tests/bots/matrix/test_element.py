"""A defender on Element's own crypto stack talks to the bot, end to end.

matrix-js-sdk with its Rust crypto under Node, cross-signing bootstrapped and
`OnlySignedDevicesIsolationMode` set (Element's default since April 2026):
room keys go only to devices their owner cross-signed, and events from other
devices do not decrypt. The bot's device is cross-signed by its own identity,
so the conversation works; a plain nio device beside it, never cross-signed,
is withheld the defender's room keys.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path
from typing import Any

import nio
import pytest
from sqlalchemy import text

from bots.deliveries import DeliveryTiming
from intake.triage.queue import list_cases
from tests.bots.matrix.harness import (
    PASSWORD,
    gps_jpeg,
    new_user,
    open_case_with_recovery,
    running_bot,
)
from tests.support.deliveries import officer_replies
from tests.support.element_defender import ElementDefender, ensure_installed, skip_reason
from tests.support.officers import enrol
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]

MENU = "What would you like to do?"
REFERENCE = "Your reference is"
FAST = DeliveryTiming(interval=0.3, base_backoff=0.1, max_backoff=1.0)


@pytest.fixture(scope="module")
def element_dir() -> Path:
    reason = skip_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the Element-stack defender is required in CI: {reason}")
        pytest.skip(reason)
    return ensure_installed()


def test_element_defender_files_a_threat_report_and_gets_the_reply(
    primary_setup: Setup, synapse: Synapse, element_dir: Path, tmp_path: Path
) -> None:
    setup = primary_setup
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    reply = f"CANARY-REPLY-{secrets.token_hex(6)} Are you safe tonight?"
    officer_id, keys = enrol(setup, "eu-del-ke", "Officer")
    bot_id = new_user(synapse, "bot")
    defender_id = new_user(synapse, "element")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(gps_jpeg())
    room_id: list[str] = []

    async def scenario() -> tuple[str, dict[str, Any], list[str]]:
        async with (
            running_bot(setup, synapse, bot_id, tmp_path / "bot-store", deliveries=FAST),
            ElementDefender.start(element_dir, synapse, defender_id, PASSWORD) as element,
        ):
            room = await element.create_dm(bot_id)
            assert MENU in await element.say(room, "hello", expect=MENU)
            for answer in ("1", "1", "Kenya", "1", "1, 2", "2", details):
                await element.say(room, answer)
            before = len(element.bodies(room))
            await element.send_image(room, photo)
            await element.wait(
                lambda: any("File received" in b for b in element.bodies(room)[before:]),
                what="the file to be received",
            )
            for answer in ("1", "1", "Signal after 6pm", "1", "2"):
                await element.say(room, answer)
            submitted = await element.say(room, "1", expect=REFERENCE)
            reference = submitted.split(REFERENCE, 1)[1].split()[0].rstrip(".")

            # The officer's reply reaches the defender in the same room.
            await asyncio.to_thread(officer_replies, setup, officer_id, keys, reference, reply)
            await element.wait(
                lambda: any("CANARY-REPLY" in b for b in element.bodies(room)),
                what="the officer's reply",
            )
            seen = await element.call("identity", user=bot_id)
            room_id.append(room)
            return reference, seen, element.bodies(room)

    reference, seen, bodies = asyncio.run(scenario())

    # Element saw the bot's device signed by its owner: that is why it talked.
    assert seen["signed_by_owner"] == seen["devices"] and len(seen["devices"]) == 1
    assert all(body for body in bodies)  # every bot message decrypted
    case = open_case_with_recovery(setup, reference)
    assert case.payload["answers"]["details"] == details
    assert len(case.attachments) == 1
    with setup.sessions() as session:
        [listed] = [c for c in list_cases(session) if c.reference == reference]
        session.execute(text("select 1"))  # keep the WAL populated for the scan
        # Canaries: nothing of the defender's identity or words in the database
        # (the bot's encryption store is there too) nor on the bot's disk.
        stored = files_under(setup.settings.home, tmp_path / "bot-store")
        assert leaks([defender_id, details, room_id[0]], stored) == []
    assert listed.mission == "eu-del-ke"


def test_a_device_not_cross_signed_is_withheld_the_room_keys(
    primary_setup: Setup, synapse: Synapse, element_dir: Path, tmp_path: Path
) -> None:
    """The control: what the bot looked like before it cross-signed itself."""
    plain_id = new_user(synapse, "plain")
    defender_id = new_user(synapse, "element")

    async def scenario() -> list[dict[str, Any]]:
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        plain = nio.AsyncClient(
            synapse.base_url, plain_id, store_path=str(tmp_path), config=config
        )
        try:
            assert isinstance(await plain.login(PASSWORD), nio.LoginResponse)
            await plain.sync(timeout=0, full_state=True)
            await plain.keys_upload()
            async with ElementDefender.start(
                element_dir, synapse, defender_id, PASSWORD
            ) as element:
                created = await element.call("create_dm", invite=plain_id)
                room = str(created["room"])
                await plain.sync(timeout=0)
                assert isinstance(await plain.join(room), nio.JoinResponse)
                for _ in range(100):
                    joined = (await element.call("members", room=room))["joined"]
                    if plain_id in joined:
                        break
                    await asyncio.sleep(0.1)
                await element.send_text(room, "hello")
                withheld: list[dict[str, Any]] = []
                for _ in range(60):
                    response = await plain.sync(timeout=500)
                    assert isinstance(response, nio.SyncResponse)
                    withheld += [
                        e.source
                        for e in response.to_device_events
                        if e.source.get("type") == "m.room_key.withheld"
                    ]
                    if withheld:
                        break
                return withheld
        finally:
            await plain.close()

    [withheld] = asyncio.run(scenario())
    assert withheld["content"]["code"] == "m.unverified"
