"""The key endpoints nio does not speak: cross-signing upload, signatures, full queries.

    keys = await publish_identity(api, state, user_id, device_id, password)

`publish_identity` runs at every start: it makes the bot's cross-signing keys
once (saved, sealed, before anything is uploaded, so a crash never leaves the
server holding keys we lost), uploads them when the server has none, signs
the bot's device with the self-signing key when the server shows no valid
signature (a new device, or a server that lost it), and reads `/keys/query`
back to confirm. Every step is safe to repeat: the same keys and the same
signature are uploaded again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp

from bots.matrix.crosssigning import read_query
from bots.matrix.identity import CrossSigningKeys
from bots.matrix.state import MatrixState, PublicIdentity

__all__ = ["IdentityError", "KeysApi", "publish_identity"]

log = logging.getLogger(__name__)

CHANNEL = "matrix"


class IdentityError(Exception):
    """The bot's cross-signed identity could not be set up; the message says why (no ids)."""


class KeysApi:
    """JSON calls to the client-server key endpoints with the bot's access token."""

    def __init__(self, http: aiohttp.ClientSession, homeserver: str, token: str) -> None:
        self._http = http
        self._base = homeserver.rstrip("/") + "/_matrix/client/v3"
        self._headers = {"Authorization": f"Bearer {token}"}

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with self._http.post(self._base + path, json=body, headers=self._headers) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            return resp.status, data if isinstance(data, dict) else {}

    async def query(self, users: Sequence[str]) -> dict[str, Any]:
        """`/keys/query` for `users`: device keys and cross-signing keys, unparsed.

        Raises:
            IdentityError: the server did not answer with 200.
        """
        status, data = await self._post("/keys/query", {"device_keys": {u: [] for u in users}})
        if status != 200:
            raise IdentityError(f"key query refused ({status})")
        return data

    async def upload_cross_signing(
        self, body: dict[str, Any], user_id: str, password: str | None
    ) -> None:
        """`/keys/device_signing/upload`, with user-interactive auth by password when asked.

        Raises:
            IdentityError: refused, or the server wants a password we do not have.
        """
        status, data = await self._post("/keys/device_signing/upload", body)
        if status == 401 and "session" in data:
            if password is None:
                raise IdentityError(
                    "the homeserver wants the bot's password to publish its cross-signing keys: "
                    "set HRD_INTAKE_MATRIX_PASSWORD (or _FILE) for this start"
                )
            auth = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user_id},
                "password": password,
                "session": data["session"],
            }
            status, data = await self._post("/keys/device_signing/upload", {**body, "auth": auth})
        if status != 200:
            raise IdentityError(
                f"cross-signing keys refused ({status} {data.get('errcode', '')})".rstrip()
            )

    async def upload_signatures(self, signed: dict[str, dict[str, Any]]) -> None:
        """`/keys/signatures/upload`: {user: {key or device id: signed object}}.

        Raises:
            IdentityError: refused, or the server listed a failure.
        """
        status, data = await self._post("/keys/signatures/upload", signed)
        if status != 200 or data.get("failures"):
            raise IdentityError(f"device signature refused ({status})")


async def _load_or_make(state: MatrixState) -> CrossSigningKeys:
    raw = await asyncio.to_thread(state.cross_signing)
    if raw is not None:
        return CrossSigningKeys.from_bytes(raw)
    keys = CrossSigningKeys.generate()
    # Saved (sealed) before the upload: the server never holds keys we could lose.
    await asyncio.to_thread(state.save_cross_signing, keys.to_bytes())
    log.info("cross-signing keys created", extra={"channel": CHANNEL})
    return keys


async def publish_identity(
    api: KeysApi, state: MatrixState, user_id: str, device_id: str, password: str | None
) -> CrossSigningKeys:
    """Make sure the server shows our master key and our device signed by it.

    Raises:
        IdentityError: the account already has another master key (the
            database that held ours was replaced?), or the server refused.
    """
    keys = await _load_or_make(state)
    answer = await api.query([user_id])
    mine = read_query(answer, [user_id])[user_id]
    if mine.master is None:
        await api.upload_cross_signing(keys.upload_body(user_id), user_id, password)
        log.info("cross-signing keys published", extra={"channel": CHANNEL})
        answer = await api.query([user_id])
        mine = read_query(answer, [user_id])[user_id]
    if mine.master != keys.master_public:
        raise IdentityError(
            "the Matrix account has a cross-signing identity other than the one in the database; "
            "refusing to replace it (defenders who verified the bot would see it change)"
        )
    if mine.self_signing != keys.self_signing_public:
        await api.upload_cross_signing(keys.upload_body(user_id), user_id, password)
        answer = await api.query([user_id])
        mine = read_query(answer, [user_id])[user_id]
    device = ((answer.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    if not isinstance(device, dict):
        raise IdentityError("the homeserver does not list the bot's device keys yet")
    ed25519 = str((device.get("keys") or {}).get(f"ed25519:{device_id}", ""))
    if not mine.device_signed(device_id, ed25519):
        await api.upload_signatures({user_id: {device_id: keys.sign_device(user_id, device)}})
        answer = await api.query([user_id])
        mine = read_query(answer, [user_id])[user_id]
        if not mine.device_signed(device_id, ed25519):
            raise IdentityError("the homeserver did not keep the bot's device signature")
        log.info("device cross-signed", extra={"channel": CHANNEL})
    published = PublicIdentity(user_id, device_id, keys.master_public, ed25519)
    if await asyncio.to_thread(state.public_identity) != published:
        await asyncio.to_thread(state.save_public_identity, published)
    return keys
