"""What the Matrix channel keeps between runs, sealed in the channel state store.

Every value is a record of `intake.storage.channel_state.ChannelStateStore`, sealed
under the server keyring (who can decrypt: the service). The methods do
database I/O: call them from a worker thread (`asyncio.to_thread`).

| key          | value                                                        |
| ------------ | ------------------------------------------------------------ |
| `session`    | user id, device id, access token of the bot's one device     |
| `pickle_key` | 32 random bytes protecting nio's encryption store at rest    |
| `sync_token` | where the next sync resumes; moved only after the events     |
|              | before it are recorded by the core                           |
| `tofu`       | user -> {device id: ed25519 key} seen (first use, then later) |
| `masters`    | user -> master cross-signing key seen                         |
| `offers`     | unencrypted room -> encrypted room the bot opened instead    |
| `outbox`     | answers the core gave to a recorded batch, until sent        |
| `cross_signing` | the bot's master, self-signing and user-signing private keys |
| `identity`   | what was last confirmed published: user, device, master key  |
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

PICKLE_KEY_BYTES = 32


class StateStore(Protocol):
    """The part of `ChannelStateStore` the channel uses."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class SessionRecord:
    """The bot's login: restored on every start so the device (and its keys) stays."""

    user_id: str
    device_id: str
    access_token: str = ""

    def __repr__(self) -> str:  # never print the token
        return "SessionRecord(<hidden>)"


@dataclass(frozen=True)
class PublicIdentity:
    """What a defender may check of the bot: nothing here is secret.

    Attributes:
        master: the master cross-signing public key (base64).
        device_key: the bot's device ed25519 key (Element's "session key").
    """

    user_id: str
    device_id: str
    master: str
    device_key: str


class MatrixState:
    """Typed access to the Matrix channel's sealed values."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def _get_json(self, key: str) -> Any:
        raw = self._store.get(key)
        return None if raw is None else json.loads(raw)

    def _put_json(self, key: str, value: Any) -> None:
        self._store.put(key, json.dumps(value, separators=(",", ":")).encode("utf-8"))

    # -- login -------------------------------------------------------------

    def session(self) -> SessionRecord | None:
        value = self._get_json("session")
        if not isinstance(value, dict):
            return None
        return SessionRecord(
            str(value["user_id"]), str(value["device_id"]), str(value["access_token"])
        )

    def save_session(self, record: SessionRecord) -> None:
        self._put_json(
            "session",
            {
                "user_id": record.user_id,
                "device_id": record.device_id,
                "access_token": record.access_token,
            },
        )

    def forget_session(self) -> None:
        self._store.delete("session")
        self._store.delete("sync_token")

    def pickle_key(self) -> str:
        """The key of nio's store, made once; never nio's default "DEFAULT_KEY"."""
        raw = self._store.get("pickle_key")
        if raw is None:
            raw = secrets.token_bytes(PICKLE_KEY_BYTES)
            self._store.put("pickle_key", raw)
        # nio takes a string and hashes it (SHA-256) into the vodozemac pickle key.
        return raw.hex()

    # -- sync --------------------------------------------------------------

    def sync_token(self) -> str | None:
        raw = self._store.get("sync_token")
        return None if raw is None else raw.decode("utf-8")

    def save_sync_token(self, token: str) -> None:
        self._store.put("sync_token", token.encode("utf-8"))

    # -- trust on first use --------------------------------------------------

    def trusted_devices(self) -> dict[str, dict[str, str]]:
        value = self._get_json("tofu")
        return value if isinstance(value, dict) else {}

    def save_trusted_devices(self, devices: dict[str, dict[str, str]]) -> None:
        self._put_json("tofu", devices)

    def known_masters(self) -> dict[str, str]:
        value = self._get_json("masters")
        return value if isinstance(value, dict) else {}

    def save_known_masters(self, masters: dict[str, str]) -> None:
        self._put_json("masters", masters)

    # -- encrypted rooms opened instead of unencrypted ones --------------------

    def offers(self) -> dict[str, str]:
        value = self._get_json("offers")
        return value if isinstance(value, dict) else {}

    def save_offers(self, offers: dict[str, str]) -> None:
        self._put_json("offers", offers)

    # -- the bot's cross-signing identity (bots.matrix.identity) ---------------

    def cross_signing(self) -> bytes | None:
        return self._store.get("cross_signing")

    def save_cross_signing(self, raw: bytes) -> None:
        self._store.put("cross_signing", raw)

    def public_identity(self) -> PublicIdentity | None:
        value = self._get_json("identity")
        if not isinstance(value, dict):
            return None
        return PublicIdentity(
            str(value["user_id"]), str(value["device_id"]), str(value["master"]),
            str(value["device_key"]),
        )

    def save_public_identity(self, identity: PublicIdentity) -> None:
        self._put_json(
            "identity",
            {
                "user_id": identity.user_id,
                "device_id": identity.device_id,
                "master": identity.master,
                "device_key": identity.device_key,
            },
        )

    # -- answers not yet sent ------------------------------------------------

    def outbox(self) -> list[dict[str, Any]]:
        value = self._get_json("outbox")
        return value if isinstance(value, list) else []

    def save_outbox(self, items: list[dict[str, Any]]) -> None:
        """Keep the answers (sealed) until sent: they may quote the defender's draft."""
        self._put_json("outbox", items)

    def clear_outbox(self) -> None:
        self._store.delete("outbox")
