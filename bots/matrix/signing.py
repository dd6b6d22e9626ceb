"""Signed JSON as the Matrix specification defines it: pure, no I/O.

    signed = sign(obj, user_id, key_id, private_key)
    verify(signed, user_id, key_id, public_key_b64)   # True or False

The bytes signed are the object's canonical JSON (keys sorted, no
whitespace, UTF-8) without its `signatures` and `unsigned` members; a
signature is Ed25519 (from `cryptography`), in unpadded base64, kept under
`signatures[user_id][key_id]`. Cross-signing keys (`identity`) and the
device-signature check of defenders (`crosssigning`) rest on these two.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["b64", "canonical_json", "public_b64", "sign", "unb64", "verify"]


def b64(data: bytes) -> str:
    """Unpadded standard base64, as Matrix writes keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    """Decode unpadded (or padded) standard or URL-safe base64.

    Raises:
        ValueError: not base64.
    """
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def canonical_json(value: Any) -> bytes:
    """The spec's canonical JSON: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def _signable(obj: dict[str, Any]) -> bytes:
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def public_b64(key: Ed25519PrivateKey) -> str:
    """The public half of `key` as Matrix names it (unpadded base64 of the raw 32 bytes)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64(raw)


def sign(obj: dict[str, Any], user_id: str, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `obj` with our signature added (other signatures kept).

    Who can check it: anyone holding the public key, `ed25519:<public_b64(key)>`.
    """
    signed = copy.deepcopy(obj)
    signed.pop("unsigned", None)
    signature = b64(key.sign(_signable(obj)))
    signed.setdefault("signatures", {}).setdefault(user_id, {})[
        f"ed25519:{public_b64(key)}"
    ] = signature
    return signed


def verify(obj: dict[str, Any], user_id: str, public_key: str) -> bool:
    """Whether `obj` carries a valid signature of `user_id` by `public_key` (base64)."""
    signatures = obj.get("signatures")
    if not isinstance(signatures, dict):
        return False
    mine = signatures.get(user_id)
    if not isinstance(mine, dict):
        return False
    signature = mine.get(f"ed25519:{public_key}")
    if not isinstance(signature, str):
        return False
    try:
        verifier = Ed25519PublicKey.from_public_bytes(unb64(public_key))
        verifier.verify(unb64(signature), _signable(obj))
    except (ValueError, InvalidSignature):
        return False
    return True
