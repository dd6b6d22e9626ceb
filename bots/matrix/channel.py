"""The Matrix channel: matrix-nio with end-to-end encryption.

    channel = build_matrix(settings, service, ChannelStateStore("matrix", ...),
                           ChannelItemStore("matrix", ...))
    await channel.run(stop)   # until `stop` is set

The bot logs in once; its device id and access token are kept sealed in the
channel state store and restored on every start (a new login would be a new
device, unable to decrypt the rooms' history). nio's encryption store (Olm
account, sessions, room keys, devices, rooms) lives in the database too
(`store`): each item under a keyed pseudonym, sealed under the keyring, its
Olm secrets also pickled under a random key kept in the channel state. So a
standby on another host that takes the account's lease over has the store;
nothing is on the bot's disk. A legacy file store (`settings.matrix.store`)
is moved in once and deleted (`legacy`). At every start the bot publishes
its cross-signed identity (`keys_api`). The loop itself is in `sync`, the room
policy and rendering in `rooms`. Beside the sync loop, a delivery
worker (`bots.deliveries`, `deliveries`) sends what officers queued:
replies into the defenders' rooms, notifications into the officers' room.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp
import nio  # type: ignore[import-untyped]
import vodozemac
from pydantic import SecretStr

from bots.core import Core
from bots.deliveries import DeliveryTiming, DeliveryWorker, run_beside
from bots.matrix.client import make_client, quiet_libraries
from bots.matrix.deliveries import MatrixSender
from bots.matrix.devices import DeviceTrust
from bots.matrix.events import RoomId
from bots.matrix.identity import CrossSigningKeys
from bots.matrix.keys_api import IdentityError, KeysApi, publish_identity
from bots.matrix.legacy import move_legacy_store
from bots.matrix.media import MediaFetcher
from bots.matrix.rooms import CHANNEL, Rooms
from bots.matrix.state import MatrixState, SessionRecord, StateStore
from bots.matrix.store import ItemStore
from bots.matrix.sync import MatrixChannelFailed, SyncLoop, Timing
from bots.matrix.trust import ShareMode
from intake.config import Settings

__all__ = [
    "MatrixChannel",
    "MatrixChannelFailed",
    "MatrixConfig",
    "MatrixSetupError",
    "Timing",
    "build_matrix",
]

log = logging.getLogger(__name__)

DEVICE_NAME = "hrd-intake"


class MatrixSetupError(Exception):
    """The Matrix channel cannot start; the message names the setting or the cause."""


@dataclass(frozen=True)
class MatrixConfig:
    homeserver: str
    user: str
    password: SecretStr | None = field(repr=False)
    store: Path
    timing: Timing = field(default_factory=Timing)
    # Where officers are notified (`[notifications] matrix_room`); None: nowhere.
    officers_room: str | None = None
    deliveries: DeliveryTiming = field(default_factory=DeliveryTiming)
    # Which devices get room keys (`[matrix] share_keys_with`).
    share_keys_with: ShareMode = "cross-signed"


def build_matrix(
    settings: Settings, service: Core, store: StateStore, items: ItemStore
) -> MatrixChannel:
    """The channel from the settings (`HRD_INTAKE_MATRIX_*`).

    Raises:
        MatrixSetupError: homeserver or user missing, or a homeserver URL we refuse.
    """
    matrix = settings.matrix
    if not matrix.homeserver or not matrix.user:
        raise MatrixSetupError("set both HRD_INTAKE_MATRIX_HOMESERVER and HRD_INTAKE_MATRIX_USER")
    url = urlparse(matrix.homeserver)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise MatrixSetupError("HRD_INTAKE_MATRIX_HOMESERVER must be an http(s) URL")
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "::1", "localhost"):
        raise MatrixSetupError(
            "HRD_INTAKE_MATRIX_HOMESERVER must use https (plain http only on loopback)"
        )
    config = MatrixConfig(
        matrix.homeserver,
        matrix.user,
        matrix.password,
        matrix.store,
        officers_room=settings.notifications.matrix_room,
        share_keys_with=matrix.share_keys_with,
    )
    return MatrixChannel(config, service, store, items)


class MatrixChannel:
    """Runs the bot account until `stop` is set (bots.runner.Channel)."""

    name = CHANNEL

    def __init__(
        self, config: MatrixConfig, service: Core, store: StateStore, items: ItemStore
    ) -> None:
        self._config = config
        self._service = service
        self._state = MatrixState(store)
        self._items = items
        # The cross-signing keys, once `run` has published them.
        self.identity: CrossSigningKeys | None = None

    @property
    def config(self) -> MatrixConfig:
        return self._config

    async def run(self, stop: asyncio.Event) -> None:
        quiet_libraries()
        pickle_key = await asyncio.to_thread(self._state.pickle_key)
        client = make_client(self._config.homeserver, self._config.user, self._items, pickle_key)
        try:
            await self._sign_in(client, pickle_key)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
                api = KeysApi(http, self._config.homeserver, str(client.access_token))
                await self._cross_sign(client, api)
                officers = self._config.officers_room
                devices = DeviceTrust(
                    client, api, self._state, self._service, self._config.share_keys_with
                )
                rooms = Rooms(
                    client,
                    self._state,
                    self._service,
                    RoomId(officers) if officers else None,
                    devices,
                )
                await rooms.load()
                media = MediaFetcher(http, self._config.homeserver, str(client.access_token))
                loop = SyncLoop(
                    client, self._state, self._service, rooms, media, self._config.timing
                )
                deliveries = DeliveryWorker(
                    self._service, MatrixSender(client, rooms), self._config.deliveries
                )
                log.info("matrix channel started", extra={"channel": CHANNEL})
                await run_beside(loop.run(stop), deliveries, stop)
        finally:
            await client.close()
            log.info("matrix channel stopped", extra={"channel": CHANNEL})

    async def _cross_sign(self, client: Any, api: KeysApi) -> None:
        """Publish the device keys, then the bot's identity and its signature of the device.

        Element (only cross-signed devices) neither shares room keys with nor
        shows messages of a device its owner has not signed: without this the
        defender's client withholds every room key from the bot.
        """
        if client.should_upload_keys:
            response = await client.keys_upload()
            if not isinstance(response, nio.KeysUploadResponse):
                raise MatrixSetupError("the homeserver refused the bot's device keys")
        password = self._config.password
        try:
            keys = await publish_identity(
                api,
                self._state,
                str(client.user_id),
                str(client.device_id),
                password.get_secret_value() if password is not None else None,
            )
        except (IdentityError, aiohttp.ClientError, TimeoutError) as exc:
            raise MatrixSetupError(f"cross-signing: {exc}") from exc
        self.identity = keys
        log.info("matrix identity published and device cross-signed", extra={"channel": CHANNEL})

    async def _sign_in(self, client: Any, pickle_key: str) -> None:
        """Restore the saved device, or log in once and save it before anything else."""
        record = await asyncio.to_thread(self._state.session)
        if record is not None and _same_user(record.user_id, self._config.user):
            await asyncio.to_thread(
                move_legacy_store,
                self._config.store,
                self._items,
                record.user_id,
                record.device_id,
                pickle_key,
            )
            try:
                client.restore_login(record.user_id, record.device_id, record.access_token)
            except (ValueError, vodozemac.PickleException) as exc:
                # nio cannot unpickle its store: the pickle key no longer matches it.
                raise MatrixSetupError(
                    "the encryption store does not open with the saved key "
                    "(was the channel state replaced?)"
                ) from exc
            log.info("matrix session restored", extra={"channel": CHANNEL})
            return
        if self._config.password is None:
            raise MatrixSetupError(
                "no saved Matrix session: set HRD_INTAKE_MATRIX_PASSWORD (or _FILE) to log in once"
            )
        response = await client.login(
            self._config.password.get_secret_value(), device_name=DEVICE_NAME
        )
        if not isinstance(response, nio.LoginResponse):
            code = getattr(response, "status_code", "?")
            raise MatrixSetupError(f"Matrix login refused ({code})")
        await asyncio.to_thread(
            self._state.save_session,
            SessionRecord(
                str(response.user_id), str(response.device_id), str(response.access_token)
            ),
        )
        if client.olm is None:
            raise MatrixSetupError("matrix-nio has no end-to-end encryption support (vodozemac)")
        log.info("matrix login: new device, kept from now on", extra={"channel": CHANNEL})


def _same_user(saved: str, configured: str) -> bool:
    if configured.startswith("@"):
        return saved == configured
    return saved[1:].split(":", 1)[0] == configured

