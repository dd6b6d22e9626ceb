"""Deliveries on Matrix: officers' replies reach defenders, notifications reach officers.

A real Synapse, the bot in-process, and two more matrix-nio clients with
their own encryption stores: a defender in a direct room with the bot, and
an officer in the officers' room. The officer acts in-process
(`triage.reply`, as `hrd-intake queue reply` does).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import nio
import pytest

from bots.deliveries import DeliveryTiming
from intake.triage.queue import open_case
from tests.bots.matrix.harness import new_defender, new_user, running_bot
from tests.support.deliveries import notifying, officer_replies, pending_deliveries
from tests.support.officers import enrol
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]  # the session-wide `synapse` fixture

MENU = "What would you like to do?"
REFERENCE = "Your reference is"
FAST = DeliveryTiming(interval=0.3, base_backoff=0.1, max_backoff=1.0)


def _redacted(events: list[dict[str, Any]], event_id: str) -> bool:
    [event] = [e for e in events if e["event_id"] == event_id]
    return "redacted_because" in event.get("unsigned", {})


def test_reply_reaches_the_defender_and_their_answer_the_officer(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    contact = f"CANARY-CONTACT-{secrets.token_hex(6)}"
    reply = f"CANARY-REPLY-{secrets.token_hex(6)} Are you safe tonight?"
    answer = f"CANARY-ANSWER-{secrets.token_hex(6)} Yes, I am with my sister."
    officer_id, keys = enrol(primary_setup, "eu-del-ke", "Officer")
    bot_id = new_user(synapse, "bot")

    async def scenario() -> tuple[str, str, str, str]:
        officer = await new_defender(synapse, tmp_path / "officer-store", prefix="officer")
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            # Given an encrypted officers' room the bot is invited to, named in the settings.
            created = await officer.client.room_create(
                invite=[bot_id],
                preset=nio.RoomPreset.private_chat,
                initial_state=[nio.EnableEncryptionBuilder().as_dict()],
            )
            assert isinstance(created, nio.RoomCreateResponse), created
            officers_room = str(created.room_id)
            setup = notifying(primary_setup, matrix_room=officers_room)
            async with running_bot(setup, synapse, bot_id, tmp_path / "bot-store", deliveries=FAST):
                await officer.wait(
                    lambda: bot_id in officer._members(officers_room), what="the bot to join"
                )
                # And a defender who filed a threat report in a direct room with the bot.
                room = await defender.create_dm(bot_id)
                assert MENU in await defender.say(room, "hello", expect=MENU)
                for text in ("1", "1", "Kenya", "1", "1, 2", "2", details, "1", "1", contact):
                    await defender.say(room, text)
                await defender.say(room, "1")
                await defender.say(room, "2")
                submitted = await defender.say(room, "1", expect=REFERENCE)
                reference = submitted.split(REFERENCE, 1)[1].split()[0].rstrip(".")

                # Then the officers are notified in their room: encrypted, a notice, no content.
                await officer.wait(
                    lambda: any(reference in b for b in officer.bodies(officers_room)),
                    what="the notification",
                )
                # An officer talking there gets no answer, and the bot stays.
                await officer.send_text(officers_room, "hello bot")

                # When the officer replies to the defender.
                await asyncio.to_thread(officer_replies, setup, officer_id, keys, reference, reply)

                # Then the defender gets it in the same room, and answers there.
                await defender.wait(
                    lambda: any("CANARY-REPLY" in b for b in defender.bodies(room)),
                    what="the officer's reply",
                )
                for _ in range(50):
                    if await asyncio.to_thread(pending_deliveries, setup) == 0:
                        break
                    await asyncio.sleep(0.1)
                await defender.say(room, answer, expect="passed on")

                # And wiping the chat redacts the officer's reply too.
                [received] = [m for m in defender.received[room] if "CANARY-REPLY" in m.body]
                await defender.say(room, "/delete", expect="deleted")
                for _ in range(50):
                    if _redacted(defender.raw_events(room), received.event_id):
                        break
                    await asyncio.sleep(0.1)
                assert received.msgtype == "m.text"
                assert _redacted(defender.raw_events(room), received.event_id)
                await officer.sync()
            [notice] = officer.received[officers_room]
            assert notice.msgtype == "m.notice"
            assert reference in notice.body and "eu-del-ke" in notice.body
            assert "immediate" in notice.body
            assert details not in notice.body and contact not in notice.body
            bot_events = [e for e in officer.raw_events(officers_room) if e["sender"] == bot_id]
            sent = [e for e in bot_events if "state_key" not in e]
            assert [e["type"] for e in sent] == ["m.room.encrypted"]
            membership = [e for e in bot_events if e["type"] == "m.room.member"]
            assert membership[0]["content"]["membership"] == "join"  # newest first: still in
            return reference, room, officers_room, defender.user_id
        finally:
            await officer.close()
            await defender.close()

    reference, room, officers_room, defender_id = asyncio.run(scenario())

    # The officer sees the reply and the defender's answer on the case.
    with primary_setup.sessions() as session:
        events = open_case(session, primary_setup.cipher, reference, keys).events
    assert [(e.kind, e.text) for e in events] == [("reply", reply), ("defender", answer)]

    logged = " ".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.startswith(("bots", "intake")) or r.levelno >= logging.WARNING
    )
    for secret in (details, contact, "CANARY-REPLY", "CANARY-ANSWER", room, officers_room):
        assert secret not in logged
    assert bot_id not in logged and defender_id not in logged


class _Rooms:
    """Stands in for `Rooms`: one officers' room, a defender's room, a shared room."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def is_officers_room(self, room: str) -> bool:
        return room == "!officers:localhost"

    def is_group(self, room: str) -> bool:
        return room in ("!officers:localhost", "!shared:localhost")

    def others(self, room: str) -> list[str]:
        return [] if room == "!left:localhost" else ["@someone:localhost"]

    async def send_checked(self, room: str, body: str, msgtype: str = "m.text") -> str:
        self.sent.append((room, msgtype))
        return "$event"


@pytest.mark.parametrize(
    ("kind", "room", "sent"),
    [
        ("reply", "!defender:localhost", "m.text"),
        ("notify", "!officers:localhost", "m.notice"),
        ("reply", "!shared:localhost", None),  # others joined: they would read it
        ("reply", "!officers:localhost", None),  # a reply never goes to the officers
        ("notify", "!defender:localhost", None),  # a notification only to the officers
        ("reply", "!left:localhost", None),  # the defender left: nobody to read it
    ],
)
def test_what_goes_where(kind: str, room: str, sent: str | None) -> None:
    from bots.deliveries import Refused
    from bots.matrix.deliveries import MatrixSender
    from bots.matrix.events import decode_trace
    from intake.messages import PendingDelivery

    rooms = _Rooms()
    sender = MatrixSender(object(), rooms)  # type: ignore[arg-type]
    delivery = PendingDelivery("d1", "matrix", kind, room, "text", None, 1)
    if sent is None:
        with pytest.raises(Refused):
            asyncio.run(sender.send(delivery))
        assert rooms.sent == []
    else:
        [traced] = asyncio.run(sender.send(delivery))
        assert rooms.sent == [(room, sent)]
        assert decode_trace(traced) == (room, "$event")
