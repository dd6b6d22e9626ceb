"""The Matrix channel end to end: a real Synapse, the bot, a defender's nio client.

Given a bot account and a defender with their own encryption store, the
defender opens rooms with the bot and talks to it; we check what the queues,
the database, the bot's encryption store, the logs and the homeserver hold.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
from pathlib import Path
from typing import Any

import nio
import pytest
import vodozemac
from PIL import Image
from sqlalchemy import func, select, text

from bots.matrix.channel import Timing
from bots.matrix.state import MatrixState
from bots.matrix.store import store_class
from intake.storage.channel_state import ChannelStateStore
from intake.storage.conversation_record import open_turn
from intake.storage.models import Conversation, ProcessedMessage
from intake.triage.queue import list_cases
from tests.bots.matrix.harness import (
    MatrixDefender,
    gps_jpeg,
    matrix_items,
    new_defender,
    new_user,
    open_case_with_recovery,
    running_bot,
)
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup
from tests.support.synapse import Synapse

pytestmark = pytest.mark.slow
pytest_plugins = ["tests.bots.matrix.synapse"]  # the session-wide `synapse` fixture

MENU = "What would you like to do?"
REFERENCE = "Your reference is"


def _is_redacted(event: dict[str, Any]) -> bool:
    return "redacted_because" in event.get("unsigned", {})


def _power(state: dict[str, dict[str, Any]], user: str) -> float:
    """A user's power level (room version 12: creators are above every level)."""
    create = state["m.room.create"]
    if create["content"].get("room_version") == "12" and user == create["sender"]:
        return float("inf")
    levels = state["m.room.power_levels"]["content"]
    return float(levels.get("users", {}).get(user, levels.get("users_default", 0)))


def _messages_of(events: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    """Message events (not state, not redactions) a user sent, oldest first."""
    return [
        e
        for e in reversed(events)
        if e["sender"] == sender and "state_key" not in e and e["type"] != "m.room.redaction"
    ]


def test_threat_report_and_assistance_request(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = primary_setup
    details = f"CANARY-DETAILS-{secrets.token_hex(6)}"
    contact = f"CANARY-CONTACT-{secrets.token_hex(6)}"
    bot_id = new_user(synapse, "bot")
    bot_store = tmp_path / "bot-store"

    async def scenario() -> tuple[MatrixDefender, str]:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(setup, synapse, bot_id, bot_store):
                room = await defender.create_dm(bot_id)
                assert MENU in await defender.say(room, "hello", expect=MENU)
                # Threat report, in Kenya, with a photo carrying its GPS position.
                for answer in ("1", "1", "Kenya", "1", "1, 2", "2", details):
                    await defender.say(room, answer)
                before = len(defender.bodies(room))
                await defender.send_image(room, gps_jpeg())
                await defender.wait(
                    lambda: any("File received" in b for b in defender.bodies(room)[before:]),
                    what="the file to be received",
                )
                for answer in ("1", "1", contact, "1", "2"):
                    await defender.say(room, answer)
                assert REFERENCE in await defender.say(room, "1", expect=REFERENCE)
                # Assistance request (legal aid), in Ukraine.
                # (menu, consent, kind, country, urgency, contact, usage, share)
                for answer in ("2", "1", "2", "Ukraine", "2", "Email via my lawyer", "1", "2"):
                    await defender.say(room, answer)
                assert REFERENCE in await defender.say(room, "1", expect=REFERENCE)
                await asyncio.sleep(1)  # let the redactions of the last wipe land
            return defender, room
        finally:
            await defender.close()

    defender, room = asyncio.run(scenario())

    # Both cases are in their missions' queues; the photo lost its EXIF.
    with setup.sessions() as session:
        cases = {c.kind: c for c in list_cases(session)}
        assert cases["threat_report"].mission == "eu-del-ke"
        assert cases["assistance_request"].mission == "eu-del-ua"
        session.execute(text("select 1"))  # keep the WAL populated for the scan
        db_files = files_under(setup.settings.home)
        assert leaks([details, contact, bot_id, defender.user_id, room], db_files) == []
    threat = open_case_with_recovery(setup, cases["threat_report"].reference)
    [photo] = threat.attachments
    assert threat.payload["answers"]["details"] == details
    with Image.open(io.BytesIO(photo.data)) as image:
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0
    assert b"PhoneMaker" not in photo.data

    # On the server: every message the bot sent is end-to-end encrypted, and
    # everything but the last answer (the second case's reference) is redacted.
    events = defender.raw_events(room)
    bot_messages = _messages_of(events, bot_id)
    assert bot_messages and {e["type"] for e in bot_messages} == {"m.room.encrypted"}
    defender_messages = _messages_of(events, defender.user_id)
    assert len(defender_messages) == 24  # every answer of both scripts, consent included
    assert all(_is_redacted(e) for e in defender_messages)
    assert all(_is_redacted(e) for e in bot_messages[:-1])
    assert not _is_redacted(bot_messages[-1])

    # The bot's encryption store is in the database (scanned above: no Matrix
    # id, room id or content); nothing is on the bot's disk; the store's
    # secrets are pickled under our random key, not nio's default.
    assert not bot_store.exists()
    state = ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock)
    session_record = MatrixState(state).session()
    assert session_record is not None
    assert leaks([session_record.access_token], files_under(setup.settings.home)) == []
    probe = nio.AsyncClient(
        synapse.base_url,
        bot_id,
        store_path="database",
        config=nio.AsyncClientConfig(store=store_class(matrix_items(setup)), pickle_key="DEFAULT_KEY"),
    )
    with pytest.raises((ValueError, vodozemac.PickleException)):
        probe.restore_login(bot_id, session_record.device_id, session_record.access_token)
    # (The defender's own nio client logs in this process too: look at what the
    # bot and the core log, and at whatever passes the libraries' quiet level.)
    logged = "".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if r.name.startswith(("bots", "intake")) or r.levelno >= logging.WARNING
    )
    for secret in (details, contact, bot_id, defender.user_id, room):
        assert secret not in logged


def test_unencrypted_room_is_refused_and_an_encrypted_one_offered(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    setup = primary_setup
    bot_id = new_user(synapse, "bot")
    secret = f"CANARY-PLAIN-{secrets.token_hex(6)}"

    async def scenario() -> tuple[MatrixDefender, str, str]:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(setup, synapse, bot_id, tmp_path / "bot-store"):
                plain = await defender.create_dm(bot_id, encrypted=False)
                await defender.wait(
                    lambda: any("not end-to-end encrypted" in b for b in defender.bodies(plain)),
                    what="the refusal",
                )
                await defender.wait(lambda: bool(defender.invites), what="the offer")
                await defender.send_text(plain, secret)
                offered = defender.invites[0]
                await defender.join(offered)
                assert MENU in await defender.say(offered, "hello", expect=MENU)
                assert "deleted" in await defender.say(offered, "/delete", expect="deleted")
                await asyncio.sleep(1)
            return defender, plain, offered
        finally:
            await defender.close()

    defender, plain, offered = asyncio.run(scenario())

    # Nothing of the plain room reached the conversation.
    assert not any(MENU in body for body in defender.bodies(plain))
    with setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 2
        # /delete destroyed the conversation record (crypto-shredding), as duress does.
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0

    # The offered room: encrypted, the bot its creator with the power to redact.
    path = f"/_matrix/client/v3/rooms/{offered}/state"
    state = {e["type"]: e for e in synapse.request("GET", path, token=defender.token)}
    assert state["m.room.encryption"]["content"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state["m.room.create"]["sender"] == bot_id
    assert state["m.room.history_visibility"]["content"]["history_visibility"] == "joined"
    assert _power(state, bot_id) >= 100 and _power(state, defender.user_id) == 0
    # /delete redacted the defender's messages too, and the bot's menu.
    events = defender.raw_events(offered)
    assert all(_is_redacted(e) for e in _messages_of(events, defender.user_id))
    assert _is_redacted(_messages_of(events, bot_id)[0])


@pytest.mark.parametrize("share_keys_with", ["cross-signed", "all"])
def test_unsigned_new_device_of_a_known_defender_is_reported_and_kept_out(
    primary_setup: Setup,
    synapse: Synapse,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    share_keys_with: str,
) -> None:
    caplog.set_level(logging.INFO)
    bot_id = new_user(synapse, "bot")

    async def scenario() -> bool:
        phone = await new_defender(synapse, tmp_path / "phone-store")
        laptop = MatrixDefender(synapse, phone.user_id, tmp_path / "laptop-store")
        signed = MatrixDefender(synapse, phone.user_id, tmp_path / "signed-store")
        signed.identity = phone.identity  # the defender's own second device, cross-signed
        try:
            async with running_bot(
                primary_setup, synapse, bot_id, tmp_path / "bot-store", share_keys_with=share_keys_with
            ):
                room = await phone.create_dm(bot_id)
                await phone.say(room, "hello", expect=MENU)
                assert "trusted on first use" in caplog.text
                await signed.login("tablet")
                await signed.wait(lambda: room in signed.client.rooms, what="the tablet's sync")
                await phone.say(room, "/help")
                assert "did not cross-sign" not in caplog.text  # their own signed device
                # An unsigned device appears (Element would call it unverified).
                await laptop.login("laptop", cross_sign=False)
                await laptop.wait(lambda: room in laptop.client.rooms, what="the laptop's sync")
                await phone.say(room, "1", expect="keep what you tell us")
                await signed.wait(
                    lambda: any("keep what you tell us" in b for b in signed.bodies(room)),
                    what="the signed tablet to decrypt",
                )
                await laptop.sync()
                return any("keep what you tell us" in b for b in laptop.bodies(room))
        finally:
            for client in (phone, laptop, signed):
                await client.close()

    laptop_reads = asyncio.run(scenario())
    # By default (Element's rule) the unsigned laptop gets no room key; with "all" it does.
    assert laptop_reads is (share_keys_with == "all")
    warnings = [r for r in caplog.records if "did not cross-sign" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    # The core remembers it for the officers: the draft's case will carry the warning.
    with primary_setup.sessions() as session:
        [conversation] = session.scalars(select(Conversation))
        assert open_turn(primary_setup.cipher, conversation).record["device_changed"] is True


def test_a_changed_identity_is_reported_as_such(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot_id = new_user(synapse, "bot")

    async def scenario() -> None:
        phone = await new_defender(synapse, tmp_path / "phone-store")
        try:
            async with running_bot(primary_setup, synapse, bot_id, tmp_path / "bot-store"):
                room = await phone.create_dm(bot_id)
                await phone.say(room, "hello", expect=MENU)
                # The defender (or whoever has the account) resets cross-signing.
                phone.cross_sign(reset=True)
                await phone.sync()
                await phone.say(room, "/help")
        finally:
            await phone.close()

    asyncio.run(scenario())
    assert "cross-signing identity changed" in caplog.text
    with primary_setup.sessions() as session:
        [conversation] = session.scalars(select(Conversation))
        record = open_turn(primary_setup.cipher, conversation).record
        assert record["device_changed"] is True and record["device_change_kind"] == "identity_changed"


def test_restart_resumes_from_the_saved_token_and_fills_timeline_gaps(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Given a bot that fetches only 3 timeline events per room and sync, and a
    # defender who writes 8 messages while the bot is stopped,
    setup = primary_setup
    bot_id = new_user(synapse, "bot")
    store = tmp_path / "bot-store"
    narrow = Timing(timeline_limit=3)
    answers = ["1", "1", "Kenya", "1", "1, 2", "2", "They watch my house", "1"]

    async def scenario() -> MatrixDefender:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(setup, synapse, bot_id, store, narrow):
                room = await defender.create_dm(bot_id)
                await defender.say(room, "hello", expect=MENU)
            for answer in answers:
                await defender.send_text(room, answer)
            # When it starts again, it pages back over the gap and answers in order.
            async with running_bot(setup, synapse, bot_id, store, narrow):
                await defender.wait(
                    lambda: any("How urgent is it?" in b for b in defender.bodies(room)),
                    what="the answers written while the bot was away",
                )
            return defender
        finally:
            await defender.close()

    asyncio.run(scenario())
    with setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 9
    assert any(r.getMessage() == "timeline gap filled" and r.count > 0 for r in caplog.records)


def test_a_room_with_several_members_is_refused_and_left(
    primary_setup: Setup, synapse: Synapse, tmp_path: Path
) -> None:
    bot_id = new_user(synapse, "bot")
    third = new_user(synapse, "someone")

    async def scenario() -> tuple[MatrixDefender, str]:
        defender = await new_defender(synapse, tmp_path / "defender-store")
        try:
            async with running_bot(primary_setup, synapse, bot_id, tmp_path / "bot-store"):
                created = await defender.client.room_create(
                    invite=[bot_id, third],
                    initial_state=[nio.EnableEncryptionBuilder().as_dict()],
                )
                room = created.room_id
                await defender.wait(
                    lambda: any("private chats" in b for b in defender.bodies(room)),
                    what="the refusal",
                )
                await defender.wait(
                    lambda: bot_id not in defender.client.rooms[room].users, what="the bot to leave"
                )
            return defender, room
        finally:
            await defender.close()

    asyncio.run(scenario())
    with primary_setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedMessage)) == 0
