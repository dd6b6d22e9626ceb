"""Device trust before every encrypted send: cross-signing read, decision, nio told.

nio knows devices but not cross-signing, so the users' cross-signing keys
come from our own `/keys/query` (`keys_api`), read again whenever nio has
queried keys since (a device list changed) or the devices nio knows differ
from those we read with. The decision is `trust.judge`; nio then marks each
device verified (it gets room keys) or blacklisted (it does not). Records of
what was seen are saved before nio is told: a crash in between repeats the
check instead of forgetting what was seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from bots.core import Core
from bots.matrix import trust
from bots.matrix.crosssigning import UserKeys, read_query
from bots.matrix.keys_api import IdentityError, KeysApi
from bots.matrix.state import MatrixState

__all__ = ["DeviceTrust"]

log = logging.getLogger(__name__)

CHANNEL = "matrix"

_WARNED = {
    trust.NEW_DEVICE: "a known defender has a device they did not cross-sign",
    trust.IDENTITY_CHANGED: "a known defender's cross-signing identity changed",
}


class DeviceTrust:
    """Checks and marks the devices of the users about to be encrypted to.

    Args:
        client: the signed-in nio client (`client.DurableKeysClient`).
        api: the key endpoints, for cross-signing keys.
        state: where what was seen is recorded.
        service: told of warnings (officers see them on the cases).
        mode: `share_keys_with`.
    """

    def __init__(
        self,
        client: Any,
        api: KeysApi | None,
        state: MatrixState,
        service: Core,
        mode: trust.ShareMode = "cross-signed",
    ) -> None:
        self._client = client
        self._api = api
        self._state = state
        self._service = service
        self._mode = mode
        self._devices: dict[str, dict[str, str]] = {}
        self._masters: dict[str, str] = {}
        # user -> (nio's key-query count, devices) when their cross-signing keys were read
        self._read: dict[str, tuple[int, dict[str, str], UserKeys]] = {}

    async def load(self) -> None:
        self._devices = await asyncio.to_thread(self._state.trusted_devices)
        self._masters = await asyncio.to_thread(self._state.known_masters)

    async def _keys(self, users: Sequence[str], current: dict[str, dict[str, str]]) -> None:
        generation = int(getattr(self._client, "keys_queries", 0))
        stale = [
            u
            for u in users
            if u not in self._read
            or self._read[u][0] != generation
            or self._read[u][1] != current[u]
        ]
        if not stale or self._api is None:
            return
        try:
            answer = await self._api.query(stale)
        except (IdentityError, aiohttp.ClientError, TimeoutError):
            # Without cross-signing keys nothing counts as signed: safe, and retried next send.
            log.warning("cross-signing keys not read", extra={"channel": CHANNEL})
            return
        for user, keys in read_query(answer, stale).items():
            self._read[user] = (generation, dict(current[user]), keys)

    async def prepare(self, users: Sequence[str], officers: bool = False) -> None:
        """Judge every device of `users`, warn where needed, and tell nio who gets keys."""
        client = self._client
        if client.should_query_keys:
            await client.keys_query()
        devices = {u: list(client.device_store.active_user_devices(u)) for u in users}
        current = {u: {str(d.id): str(d.ed25519) for d in devices[u]} for u in users}
        await self._keys(users, current)
        changed = False
        shares: dict[str, frozenset[str]] = {}
        for user in users:
            known = None
            if user in self._devices or user in self._masters:
                known = trust.KnownUser(self._masters.get(user), self._devices.get(user, {}))
            keys = self._read[user][2] if user in self._read else UserKeys()
            verdict = trust.judge(known, current[user], keys, self._mode)
            shares[user] = verdict.share
            if verdict.first_use:
                log.info(
                    "devices trusted on first use",
                    extra={"channel": CHANNEL, "count": len(current[user])},
                )
            if verdict.warning is not None:
                await self._warn(user, verdict.warning, officers)
            if verdict.record is not None:
                self._devices[user] = dict(verdict.record.devices)
                if verdict.record.master is not None:
                    self._masters[user] = verdict.record.master
                else:
                    self._masters.pop(user, None)
                changed = True
        if changed:
            await asyncio.to_thread(self._state.save_trusted_devices, dict(self._devices))
            await asyncio.to_thread(self._state.save_known_masters, dict(self._masters))
        for user in users:
            for device in devices[user]:
                if str(device.id) in shares[user]:
                    if not client.olm.is_device_verified(device):
                        client.verify_device(device)
                elif not client.olm.is_device_blacklisted(device):
                    client.blacklist_device(device)

    async def _warn(self, user: str, kind: str, officers: bool) -> None:
        if officers:
            log.warning(
                "an officer in the notification room has an unverified device or a new identity",
                extra={"channel": CHANNEL},
            )
            return
        log.warning(_WARNED[kind], extra={"channel": CHANNEL})
        # The officers see it on the defender's cases, without device ids.
        await asyncio.to_thread(self._service.warn_device_change, CHANNEL, user, kind)
