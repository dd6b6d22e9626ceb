"""The bot's cross-signing identity: master, self-signing and user-signing keys.

What is sealed to whom: the three private keys (Ed25519 seeds) are one value
of the channel state (`cross_signing`), sealed under the server keyring in
the database (who can decrypt: the service). Only their public halves leave
the process, in the objects uploaded to the homeserver:

- the **master key** is the bot's identity: its fingerprint is what the
  Delegation publishes (`hrd-intake matrix identity`) and a defender compares;
- the **self-signing key**, signed by the master key, signs the bot's device:
  that signature is what Element's "only cross-signed devices" mode requires
  before it shares room keys with the bot or shows its messages;
- the **user-signing key**, signed by the master key, would sign other users'
  master keys (the bot verifies nobody interactively; it is uploaded because
  the spec and Element expect all three).

Pure: building, reading and fingerprinting; `keys_api` does the uploads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bots.matrix.signing import b64, public_b64, sign, unb64

__all__ = ["CrossSigningKeys", "fingerprint", "published_link"]

_USAGES = ("master", "self_signing", "user_signing")


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three private keys; `repr` shows only the master's public half."""

    master: Ed25519PrivateKey = field(repr=False)
    self_signing: Ed25519PrivateKey = field(repr=False)
    user_signing: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        return cls(
            Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        )

    # -- at rest (the caller seals the bytes) --------------------------------

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "version": 1,
                "master": b64(_seed(self.master)),
                "self_signing": b64(_seed(self.self_signing)),
                "user_signing": b64(_seed(self.user_signing)),
            }
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> CrossSigningKeys:
        """Raises: ValueError on anything but what `to_bytes` wrote."""
        value = json.loads(raw)
        if not isinstance(value, dict) or value.get("version") != 1:
            raise ValueError("not a cross-signing key record")
        keys = [Ed25519PrivateKey.from_private_bytes(unb64(str(value[u]))) for u in _USAGES]
        return cls(*keys)

    # -- public halves ---------------------------------------------------------

    @property
    def master_public(self) -> str:
        return public_b64(self.master)

    @property
    def self_signing_public(self) -> str:
        return public_b64(self.self_signing)

    def upload_body(self, user_id: str) -> dict[str, Any]:
        """The body of `/keys/device_signing/upload`: three public keys, the sub-keys signed."""

        def key_object(key: Ed25519PrivateKey, usage: str) -> dict[str, Any]:
            public = public_b64(key)
            return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{public}": public}}

        return {
            "master_key": key_object(self.master, "master"),
            "self_signing_key": sign(
                key_object(self.self_signing, "self_signing"), user_id, self.master
            ),
            "user_signing_key": sign(
                key_object(self.user_signing, "user_signing"), user_id, self.master
            ),
        }

    def sign_device(self, user_id: str, device_keys: dict[str, Any]) -> dict[str, Any]:
        """The bot's device keys (as `/keys/query` returned them) with our self-signing
        signature added; who can check it: anyone, with the self-signing public key."""
        return sign(device_keys, user_id, self.self_signing)


def published_link(user_id: str, master: str) -> str:
    """What the Delegation's QR code carries: a matrix.to link that opens a chat with
    the bot, with its master key as a parameter to compare (`hrd_master_key`)."""
    return f"https://matrix.to/#/{quote(user_id, safe='@:')}?hrd_master_key={quote(master, safe='')}"


def fingerprint(public_key: str) -> str:
    """A master key as people compare it: its base64 in groups of four (Element's style)."""
    return " ".join(public_key[i : i + 4] for i in range(0, len(public_key), 4))
