"""Reading a Megolm message's index out of its ciphertext: pure."""

from __future__ import annotations

import base64

__all__ = ["megolm_index"]

_MEGOLM_VERSION = 3
_INDEX_TAG = 0x08  # protobuf field 1, varint: the message index


def megolm_index(ciphertext: str) -> int | None:
    """The message index written in a Megolm message (base64), or None if malformed.

    Only trusted once the message decrypted: the index is covered by its MAC.
    """
    try:
        raw = base64.b64decode(ciphertext + "=" * (-len(ciphertext) % 4), validate=True)
    except ValueError:
        return None
    if len(raw) < 3 or raw[0] != _MEGOLM_VERSION or raw[1] != _INDEX_TAG:
        return None
    index = shift = 0
    for byte in raw[2:12]:
        index |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return index
        shift += 7
    return None
