"""Forward secrecy of the chat: after a wipe the bot's store cannot read the room's past.

The homeserver keeps the encrypted events (redacted ones too, for a while);
we keep copies of them as the server had them, wipe the chat with
`/delete`, stop the bot, and open its encryption store (in the database)
with a fresh nio client: the events before the wipe no longer decrypt, the
defender's next message does.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from pathlib import Path
from typing import Any

import nio
import pytest
import vodozemac

from bots.matrix.megolm import megolm_index
from bots.matrix.state import MatrixState
from bots.matrix.store import store_class
from intake.storage.channel_state import ChannelStateStore
from tests.bots.matrix.harness import (
    MatrixDefender,
    matrix_items,
    new_defender,
    new_user,
    running_bot,
)
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]

MENU = "What would you like to do?"


def test_megolm_index_is_read_from_the_message() -> None:
    session = vodozemac.GroupSession()
    indices = [megolm_index(session.encrypt(b"x").to_base64()) for _ in range(200)]
    assert indices == list(range(200))
    assert megolm_index("not base64!") is None


def _server_copy(defender: MatrixDefender, room: str, event_id: str) -> dict[str, Any]:
    path = (
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}"
        f"/event/{urllib.parse.quote(event_id)}"
    )
    return dict(defender.synapse.request("GET", path, token=defender.token))


def _bot_can_decrypt(setup: Setup, synapse: Synapse, raw: dict[str, Any]) -> bool:
    state = MatrixState(ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock))
    record = state.session()
    assert record is not None
    config = nio.AsyncClientConfig(
        store=store_class(matrix_items(setup)), pickle_key=state.pickle_key()
    )
    client = nio.AsyncClient(synapse.base_url, record.user_id, store_path="database", config=config)
    client.restore_login(record.user_id, record.device_id, record.access_token)
    event = nio.Event.parse_event(raw)
    assert isinstance(event, nio.MegolmEvent)
    try:
        decrypted = client.decrypt_event(event)
    except nio.EncryptionError:
        return False
    return not isinstance(decrypted, nio.MegolmEvent)


def test_after_delete_the_store_cannot_decrypt_the_rooms_earlier_events(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = primary_setup
    bot_id = new_user(synapse, "bot")

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(setup, synapse, bot_id, tmp_path / "bot-store"):
                room = await defender.create_dm(bot_id)
                before: list[dict[str, Any]] = []
                for text, expect in (("hello", MENU), ("1", None), ("1", None)):
                    await defender.say(room, text, expect=expect)
                    sent = [e for e in defender.raw_events(room) if e["sender"] == defender.user_id]
                    before = [
                        _server_copy(defender, room, e["event_id"])
                        for e in sent
                        if e["type"] == "m.room.encrypted"
                    ]
                await defender.say(room, "/delete", expect="deleted")
                # The defender goes on in the same room, with the same Megolm session.
                await defender.say(room, "hello", expect=MENU)
                after = next(
                    e for e in defender.raw_events(room) if e["sender"] == defender.user_id
                )
                return before, _server_copy(defender, room, after["event_id"])
        finally:
            await defender.close()

    before, after = asyncio.run(scenario())
    assert len(before) >= 3
    # Given the store as the bot left it, and the server's copies of the events:
    assert not any(_bot_can_decrypt(setup, synapse, raw) for raw in before)
    assert _bot_can_decrypt(setup, synapse, after)
