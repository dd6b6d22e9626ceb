"""Helpers for the Matrix channel tests: the bot in-process, a defender client.

`MatrixDefender` is a second matrix-nio client with its own encryption store,
playing the human rights defender. The homeserver fixture is in
`tests.bots.matrix.synapse` (loaded as a plugin by the test modules).
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr

from bots.matrix.channel import MatrixChannel, Timing, build_matrix
from intake.config import MatrixSettings, Settings
from intake.storage.channel_state import ChannelStateStore
from tests.support.setup import Setup
from tests.support.synapse import Synapse

try:
    import nio

    from tests.support.matrix_sync import DecryptingSync, Synced
except ImportError:  # pragma: no cover - depends on the install
    if os.environ.get("CI"):
        raise
    pytest.skip("matrix-nio[e2e] is not installed", allow_module_level=True)
if not nio.crypto.ENCRYPTION_ENABLED:  # pragma: no cover - depends on the install
    if os.environ.get("CI"):
        raise RuntimeError("matrix-nio has no end-to-end support (vodozemac missing)")
    pytest.skip("matrix-nio has no end-to-end support (vodozemac)", allow_module_level=True)

PASSWORD = "correct horse battery staple"


def new_user(synapse: Synapse, prefix: str) -> str:
    """Register a fresh user (unique per call); return its user id."""
    user_id, _ = synapse.register(f"{prefix}-{secrets.token_hex(4)}", PASSWORD)
    return user_id


def matrix_settings(setup: Setup, synapse: Synapse, bot_id: str, store: Path) -> Settings:
    matrix = MatrixSettings(
        homeserver=synapse.base_url, user=bot_id, password=SecretStr(PASSWORD), store=store
    )
    return setup.settings.model_copy(update={"matrix": matrix})


def matrix_env(setup: Setup, synapse: Synapse, bot_id: str, store: Path) -> dict[str, str]:
    """The environment `hrd-intake serve` needs to run this bot."""
    return {
        **setup.env,
        "HRD_INTAKE_MATRIX_HOMESERVER": synapse.base_url,
        "HRD_INTAKE_MATRIX_USER": bot_id,
        "HRD_INTAKE_MATRIX_PASSWORD": PASSWORD,
        "HRD_INTAKE_MATRIX_STORE": str(store),
    }


@asynccontextmanager
async def running_bot(
    setup: Setup,
    synapse: Synapse,
    bot_id: str,
    store: Path,
    timing: Timing | None = None,
    **config: Any,
) -> AsyncIterator[MatrixChannel]:
    """The channel as `serve` builds it (or with other `timing` or `MatrixConfig` fields),
    running in this event loop."""
    settings = matrix_settings(setup, synapse, bot_id, store)
    state = ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock)
    service = setup.service()
    channel = build_matrix(settings, service, state)
    if timing is not None:
        config["timing"] = timing
    if config:
        channel = MatrixChannel(replace(channel.config, **config), service, state)
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(stop))
    try:
        yield channel
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def open_case_with_recovery(setup: Setup, reference: str) -> Any:
    """Open a submitted case as security staff would (sealed: the server alone cannot)."""
    from intake.keys.recovery import RECOVERY_FILE_NAME, recovery_keys_at_hand
    from intake.triage.queue import open_case

    keys = recovery_keys_at_hand(setup.settings.home / RECOVERY_FILE_NAME)
    with setup.sessions() as session:
        return open_case(session, setup.cipher, reference, keys)


def gps_jpeg() -> bytes:
    """A small JPEG whose EXIF carries a GPS position (as a phone camera writes it)."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "S", 2: (1.0, 17.0, 30.0), 3: "E", 4: (36.0, 49.0, 12.0)}
    exif[0x8825] = gps  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@dataclass
class BotMessage:
    event_id: str
    body: str
    msgtype: str = "m.text"


@dataclass
class MatrixDefender:
    """A defender's Matrix client with its own end-to-end encryption store."""

    synapse: Synapse
    user_id: str
    store: Path
    client: Any = None
    received: dict[str, list[BotMessage]] = field(default_factory=dict)
    invites: list[str] = field(default_factory=list)
    _inbox: DecryptingSync | None = None
    _first: bool = True

    async def login(self, device_name: str = "phone") -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        config = nio.AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
        self.client = nio.AsyncClient(
            self.synapse.base_url, self.user_id, store_path=str(self.store), config=config
        )
        response = await self.client.login(PASSWORD, device_name=device_name)
        assert isinstance(response, nio.LoginResponse), response
        self._inbox = DecryptingSync(self.client)
        await self.sync()

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    @property
    def token(self) -> str:
        return str(self.client.access_token)

    async def sync(self, timeout_ms: int = 0) -> None:
        """One sync plus the key traffic it calls for; collects the bot's messages."""
        assert self._inbox is not None, "log in first"
        synced = await self._inbox.sync(timeout_ms, full_state=self._first)
        assert isinstance(synced, Synced), synced
        self._first = False
        rooms = synced.response.rooms
        self.invites.extend(r for r in rooms.invite if r not in self.invites)
        for room_id, event in synced.events:
            content = event.source.get("content", {})
            if event.source.get("type") == "m.room.message" and "body" in content:
                self.received.setdefault(room_id, []).append(
                    BotMessage(
                        event.event_id, str(content["body"]), str(content.get("msgtype", ""))
                    )
                )

    async def wait(
        self, condition: Callable[[], bool], timeout: float = 30, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            await self.sync(timeout_ms=500)

    async def create_dm(self, bot_id: str, encrypted: bool = True) -> str:
        state = [nio.EnableEncryptionBuilder().as_dict()] if encrypted else []
        created = await self.client.room_create(
            is_direct=True,
            invite=[bot_id],
            preset=nio.RoomPreset.trusted_private_chat,
            initial_state=state,
        )
        assert isinstance(created, nio.RoomCreateResponse), created
        await self.wait(lambda: bot_id in self._members(created.room_id), what="the bot to join")
        return str(created.room_id)

    def _members(self, room_id: str) -> set[str]:
        room = self.client.rooms.get(room_id)
        return set(room.users) if room is not None else set()

    async def join(self, room_id: str) -> None:
        response = await self.client.join(room_id)
        assert isinstance(response, nio.JoinResponse), response
        await self.sync()

    async def _ready_to_send(self, room_id: str) -> None:
        """Know every device of the room's members (the harness pitfall: send blind, lose)."""
        for _ in range(50):
            await self.sync()
            room = self.client.rooms[room_id]
            if not room.encrypted:
                return
            others = [u for u in room.users if u != self.user_id]
            if all(list(self.client.device_store.active_user_devices(u)) for u in others):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("never learnt the bot's devices")

    async def send_text(self, room_id: str, text: str) -> str:
        await self._ready_to_send(room_id)
        sent = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": text},
            ignore_unverified_devices=True,
        )
        assert isinstance(sent, nio.RoomSendResponse), sent
        return str(sent.event_id)

    async def send_image(self, room_id: str, data: bytes, name: str = "photo.jpg") -> str:
        upload, keys = await self.client.upload(
            io.BytesIO(data),
            content_type="image/jpeg",
            filename=name,
            encrypt=True,
            filesize=len(data),
        )
        assert isinstance(upload, nio.UploadResponse), upload
        assert keys is not None
        content = {
            "msgtype": "m.image",
            "body": name,
            "info": {"mimetype": "image/jpeg", "size": len(data), "w": 64, "h": 48},
            "file": {**keys, "url": upload.content_uri, "mimetype": "image/jpeg"},
        }
        await self._ready_to_send(room_id)
        sent = await self.client.room_send(
            room_id, "m.room.message", content, ignore_unverified_devices=True
        )
        assert isinstance(sent, nio.RoomSendResponse), sent
        return str(sent.event_id)

    def bodies(self, room_id: str) -> list[str]:
        return [m.body for m in self.received.get(room_id, [])]

    async def say(self, room_id: str, text: str, expect: str | None = None) -> str:
        """Send `text`, wait for the bot's next message (containing `expect`); return it."""
        before = len(self.received.get(room_id, []))
        await self.send_text(room_id, text)

        def answered() -> bool:
            new = self.bodies(room_id)[before:]
            return any(expect is None or expect in body for body in new)

        await self.wait(answered, what=f"an answer to {text!r}")
        return self.bodies(room_id)[-1]

    def raw_events(self, room_id: str) -> list[dict[str, Any]]:
        """Everything the server holds for the room, as the defender may fetch it."""
        path = f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/messages?dir=b&limit=1000"
        return list(self.synapse.request("GET", path, token=self.token)["chunk"])


async def new_defender(synapse: Synapse, store: Path, prefix: str = "defender") -> MatrixDefender:
    defender = MatrixDefender(synapse, new_user(synapse, prefix), store)
    await defender.login()
    return defender
