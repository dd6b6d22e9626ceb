"""nio's encryption store, kept in the database instead of files.

nio's `SqliteStore` wrote the Olm account, sessions, room keys, defenders'
user and device ids and the room ids into a SQLite file, the ids in
plaintext. `DatabaseStore` has the same methods (nio calls them; it takes
the class through `AsyncClientConfig.store`) and keeps everything in the
items store the service gives the channel (`ItemStore`: in the database,
each item under a keyed pseudonym, sealed under the keyring). Olm and
Megolm secrets are also pickled under the channel's random pickle key, as
nio does. Nothing is written to disk by the store itself.

Items, by kind (the key is what the pseudonym hides):

| kind            | key                       | value (JSON)                                |
| --------------- | ------------------------- | ------------------------------------------- |
| `account`       | `account`                 | user, device, shared flag, pickled account  |
| `olm_session`   | sender key, session id    | pickled Olm session and its times           |
| `group_session` | room, sender key, session | pickled inbound Megolm session, its keys    |
| `device`        | user id, device id        | device keys, name, deleted, trust state     |
| `room`          | room id                   | (an encrypted room)                         |
| `key_request`   | request id                | an outgoing room-key request                |

Every write is durable when nio's call returns: nio expects that (it saves
its account before it uploads one-time keys, see `client.DurableKeysClient`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from nio.crypto import (  # type: ignore[import-untyped]
    DeviceStore,
    GroupSessionStore,
    InboundGroupSession,
    OlmAccount,
    OlmDevice,
    OutgoingKeyRequest,
    Session,
    SessionStore,
    TrustState,
)

__all__ = ["DatabaseStore", "ItemStore", "store_class"]

log = logging.getLogger(__name__)


class ItemStore(Protocol):
    """The part of `intake.storage.channel_items.ChannelItemStore` the store uses."""

    def load(self) -> dict[str, dict[str, bytes]]: ...

    def put(self, kind: str, key: str, value: bytes) -> None: ...

    def put_many(self, kind: str, items: Mapping[str, bytes]) -> None: ...

    def delete(self, kind: str, key: str) -> None: ...

    def clear(self) -> None: ...


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _group_key(room_id: str, sender_key: str, session_id: str) -> str:
    return f"{room_id}|{sender_key}|{session_id}"


class DatabaseStore:
    """A nio `MatrixStore` over an `ItemStore`, for one user and device.

    On first use by a new device (a fresh login), the items of the previous
    device are cleared: its Olm account is of no use to the new one.
    """

    def __init__(self, items: ItemStore, user_id: str, device_id: str, pickle_key: str) -> None:
        self._items = items
        self.user_id = user_id
        self.device_id = device_id
        self.pickle_key = pickle_key
        loaded = items.load()
        account = loaded.get("account", {}).get("account")
        if account is not None:
            owner = json.loads(account)
            if (owner.get("user_id"), owner.get("device_id")) != (user_id, device_id):
                log.info("encryption store of another device cleared", extra={"channel": "matrix"})
                items.clear()
                loaded = {}
        self._loaded = loaded

    def _kind(self, kind: str) -> dict[str, Any]:
        return {key: json.loads(raw) for key, raw in self._loaded.get(kind, {}).items()}

    def _put(self, kind: str, key: str, value: Any) -> None:
        raw = _dump(value)
        self._loaded.setdefault(kind, {})[key] = raw
        self._items.put(kind, key, raw)

    def _delete(self, kind: str, key: str) -> None:
        self._loaded.get(kind, {}).pop(key, None)
        self._items.delete(kind, key)

    # -- the Olm account ------------------------------------------------------

    def load_account(self) -> OlmAccount | None:
        value = self._kind("account").get("account")
        if value is None:
            return None
        return OlmAccount.from_pickle(value["pickle"].encode(), self.pickle_key, value["shared"])

    def save_account(self, account: OlmAccount) -> None:
        self._put(
            "account",
            "account",
            {
                "user_id": self.user_id,
                "device_id": self.device_id,
                "shared": bool(account.shared),
                "pickle": account.pickle(self.pickle_key).decode(),
            },
        )

    # -- Olm sessions ------------------------------------------------------------

    def load_sessions(self) -> SessionStore:
        store = SessionStore()
        for value in self._kind("olm_session").values():
            session = Session.from_pickle(
                value["pickle"].encode(),
                datetime.fromisoformat(value["created"]),
                self.pickle_key,
                datetime.fromisoformat(value["used"]),
            )
            store.add(value["sender_key"], session)
        return store

    def save_session(self, curve_key: str, session: Session) -> None:
        self._put(
            "olm_session",
            f"{curve_key}|{session.id}",
            {
                "sender_key": curve_key,
                "pickle": session.pickle(self.pickle_key).decode(),
                "created": session.creation_time.isoformat(),
                "used": session.use_time.isoformat(),
            },
        )

    # -- inbound Megolm sessions (room keys) ----------------------------------

    def load_inbound_group_sessions(self) -> GroupSessionStore:
        store = GroupSessionStore()
        for value in self._kind("group_session").values():
            store.add(
                InboundGroupSession.from_pickle(
                    value["pickle"].encode(),
                    value["ed25519"],
                    value["sender_key"],
                    value["room_id"],
                    self.pickle_key,
                    value["chain"],
                )
            )
        return store

    def save_inbound_group_session(self, session: InboundGroupSession) -> None:
        key = _group_key(session.room_id, session.sender_key, session.id)
        self._put(
            "group_session",
            key,
            {
                "pickle": session.pickle(self.pickle_key).decode(),
                "ed25519": session.ed25519,
                "sender_key": session.sender_key,
                "room_id": session.room_id,
                "chain": list(session.forwarding_chain),
                "read": self.read_up_to(session.room_id, session.sender_key, session.id),
            },
        )

    def read_up_to(self, room_id: str, sender_key: str, session_id: str) -> int:
        """The index after the last message of this session the bot decrypted (0: none)."""
        value = self._kind_value("group_session", _group_key(room_id, sender_key, session_id))
        return int(value.get("read", 0)) if isinstance(value, dict) else 0

    def note_read(self, room_id: str, sender_key: str, session_id: str, up_to: int) -> None:
        """Record that messages before `up_to` were decrypted (`forget` ratchets past them)."""
        key = _group_key(room_id, sender_key, session_id)
        value = self._kind_value("group_session", key)
        if isinstance(value, dict) and up_to > int(value.get("read", 0)):
            self._put("group_session", key, {**value, "read": up_to})

    def delete_inbound_group_session(self, session: InboundGroupSession) -> None:
        """Forget a room key (not a nio method: `forget` calls it)."""
        self._delete("group_session", _group_key(session.room_id, session.sender_key, session.id))

    # -- devices and their trust -------------------------------------------------

    def load_device_keys(self) -> DeviceStore:
        store = DeviceStore()
        for value in self._kind("device").values():
            device = OlmDevice(
                value["user_id"],
                value["device_id"],
                dict(value["keys"]),
                display_name=value.get("display_name", ""),
                deleted=bool(value.get("deleted", False)),
            )
            if value.get("trust_key") == device.keys.get("ed25519"):
                device.trust_state = TrustState[value.get("trust", "unset")]
            store.add(device)
        return store

    def _device_value(self, device: OlmDevice) -> dict[str, Any]:
        return {
            "user_id": device.user_id,
            "device_id": device.device_id,
            "keys": dict(device.keys),
            "display_name": device.display_name or "",
            "deleted": bool(device.deleted),
            "trust": device.trust_state.name,
            "trust_key": device.keys.get("ed25519"),
        }

    def save_device_keys(self, device_keys: Mapping[str, Mapping[str, OlmDevice]]) -> None:
        items: dict[str, bytes] = {}
        for user_id, devices in device_keys.items():
            for device_id, device in devices.items():
                raw = _dump(self._device_value(device))
                key = f"{user_id}|{device_id}"
                self._loaded.setdefault("device", {})[key] = raw
                items[key] = raw
        self._items.put_many("device", items)

    def _set_trust(self, devices: Iterable[OlmDevice], state: TrustState) -> bool:
        changed = False
        items: dict[str, bytes] = {}
        for device in devices:
            changed = changed or device.trust_state != state
            device.trust_state = state
            raw = _dump(self._device_value(device))
            key = f"{device.user_id}|{device.device_id}"
            self._loaded.setdefault("device", {})[key] = raw
            items[key] = raw
        self._items.put_many("device", items)
        return changed

    def _trust_of(self, device: OlmDevice) -> TrustState:
        value = self._kind_value("device", f"{device.user_id}|{device.device_id}")
        if value is None or value.get("trust_key") != device.keys.get("ed25519"):
            return TrustState.unset
        return TrustState[value.get("trust", "unset")]

    def _kind_value(self, kind: str, key: str) -> Any:
        raw = self._loaded.get(kind, {}).get(key)
        return None if raw is None else json.loads(raw)

    def verify_device(self, device: OlmDevice) -> bool:
        return self._set_trust([device], TrustState.verified)

    def unverify_device(self, device: OlmDevice) -> bool:
        if self._trust_of(device) is not TrustState.verified:
            return False
        return self._set_trust([device], TrustState.unset)

    def is_device_verified(self, device: OlmDevice) -> bool:
        return self._trust_of(device) is TrustState.verified

    def blacklist_device(self, device: OlmDevice) -> bool:
        return self._set_trust([device], TrustState.blacklisted)

    def unblacklist_device(self, device: OlmDevice) -> bool:
        if self._trust_of(device) is not TrustState.blacklisted:
            return False
        return self._set_trust([device], TrustState.unset)

    def is_device_blacklisted(self, device: OlmDevice) -> bool:
        return self._trust_of(device) is TrustState.blacklisted

    def ignore_device(self, device: OlmDevice) -> bool:
        return self._set_trust([device], TrustState.ignored)

    def unignore_device(self, device: OlmDevice) -> bool:
        if self._trust_of(device) is not TrustState.ignored:
            return False
        return self._set_trust([device], TrustState.unset)

    def ignore_devices(self, devices: list[OlmDevice]) -> None:
        self._set_trust(devices, TrustState.ignored)

    def is_device_ignored(self, device: OlmDevice) -> bool:
        return self._trust_of(device) is TrustState.ignored

    # -- rooms, key requests, sync token -------------------------------------------

    def load_encrypted_rooms(self) -> set[str]:
        return set(self._loaded.get("room", {}))

    def save_encrypted_rooms(self, rooms: Iterable[str]) -> None:
        new = {room: b"{}" for room in rooms if room not in self._loaded.get("room", {})}
        self._loaded.setdefault("room", {}).update(new)
        self._items.put_many("room", new)

    def delete_encrypted_room(self, room: str) -> None:
        self._delete("room", room)

    def load_outgoing_key_requests(self) -> dict[str, OutgoingKeyRequest]:
        return {
            key: OutgoingKeyRequest(
                value["request_id"], value["session_id"], value["room_id"], value["algorithm"]
            )
            for key, value in self._kind("key_request").items()
        }

    def add_outgoing_key_request(self, key_request: OutgoingKeyRequest) -> None:
        self._put(
            "key_request",
            key_request.request_id,
            {
                "request_id": key_request.request_id,
                "session_id": key_request.session_id,
                "room_id": key_request.room_id,
                "algorithm": key_request.algorithm,
            },
        )

    def remove_outgoing_key_request(self, key_request: OutgoingKeyRequest) -> None:
        self._delete("key_request", key_request.request_id)

    def save_sync_token(self, token: str) -> None:
        """Unused: the channel keeps its sync token itself, after the core commits."""

    def load_sync_token(self) -> str | None:
        return None


def store_class(items: ItemStore) -> type:
    """A class nio can instantiate as its store (`AsyncClientConfig.store`) over `items`.

    nio calls `store(user_id, device_id, store_path, pickle_key, store_name)`;
    the path and name are ignored (nothing goes to disk).
    """

    class BoundDatabaseStore(DatabaseStore):
        def __init__(
            self, user_id: str, device_id: str, _path: str, pickle_key: str = "", _name: str = ""
        ) -> None:
            super().__init__(items, user_id, device_id, pickle_key)

    return BoundDatabaseStore
