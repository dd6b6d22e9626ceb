"""Reading users' cross-signing keys out of a `/keys/query` answer: pure, no I/O.

For each user we keep their master key and which of their devices their
self-signing key (itself signed by that master key) has signed. A forged or
stale signature, a self-signing key the master did not sign, or a device
whose published ed25519 key differs from what it signed, all count as
"not signed": that is the check Element's only-cross-signed-devices mode
makes, and the one the bot makes before sharing a room key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bots.matrix.signing import verify

__all__ = ["UserKeys", "read_query"]


@dataclass(frozen=True)
class UserKeys:
    """One user's cross-signing state as the homeserver published it.

    Attributes:
        master: the master public key (base64), or None when they have none.
        self_signing: their self-signing public key, if the master signed it.
        signed: device id -> the device's ed25519 key, for devices the
            self-signing key signed.
    """

    master: str | None = None
    self_signing: str | None = None
    signed: Mapping[str, str] = field(default_factory=dict, repr=False)

    def device_signed(self, device_id: str, ed25519: str) -> bool:
        """Whether the owner cross-signed this device, with this key."""
        return self.signed.get(device_id) == ed25519


def _single_key(obj: Any, user_id: str, usage: str) -> str | None:
    if not isinstance(obj, dict) or obj.get("user_id") != user_id:
        return None
    if usage not in (obj.get("usage") or []):
        return None
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    [(key_id, key)] = keys.items()
    if not isinstance(key, str) or key_id != f"ed25519:{key}":
        return None
    return key


def _user_keys(answer: Mapping[str, Any], user_id: str) -> UserKeys:
    master = _single_key((answer.get("master_keys") or {}).get(user_id), user_id, "master")
    if master is None:
        return UserKeys()
    ssk_obj = (answer.get("self_signing_keys") or {}).get(user_id)
    ssk = _single_key(ssk_obj, user_id, "self_signing")
    if ssk is None or not isinstance(ssk_obj, dict) or not verify(ssk_obj, user_id, master):
        return UserKeys(master=master)
    signed: dict[str, str] = {}
    for device_id, device in ((answer.get("device_keys") or {}).get(user_id) or {}).items():
        if not isinstance(device, dict) or device.get("device_id") != device_id:
            continue
        ed25519 = (device.get("keys") or {}).get(f"ed25519:{device_id}")
        if isinstance(ed25519, str) and verify(device, user_id, ssk):
            signed[str(device_id)] = ed25519
    return UserKeys(master=master, self_signing=ssk, signed=signed)


def read_query(answer: Mapping[str, Any], users: list[str]) -> dict[str, UserKeys]:
    """Each user's cross-signing keys from a `/keys/query` answer (bad values read as none)."""
    return {user: _user_keys(answer, user) for user in users}
