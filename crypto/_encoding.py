"""Unambiguous byte encoding of several strings (for associated data and MAC input).

Each part is its UTF-8 bytes preceded by their length as 4 bytes big-endian, so
("ab", "c") and ("a", "bc") never encode alike.
"""

from __future__ import annotations

__all__ = ["length_prefixed"]


def length_prefixed(*parts: str) -> bytes:
    """Encode strings as length-prefixed UTF-8.

    Args:
        parts: the strings, in order.

    Returns:
        The concatenation of len(utf8) as 4 bytes big-endian and utf8, for each part.

    Raises:
        ValueError: a part is not encodable as UTF-8 (a lone surrogate) or longer
            than 2**32 - 1 bytes.
    """
    out = bytearray()
    for part in parts:
        encoded = part.encode("utf-8")  # strict: a lone surrogate raises UnicodeEncodeError
        if len(encoded) > 0xFFFFFFFF:
            raise ValueError("a part is too long to encode (over 2**32 - 1 bytes)")
        out += len(encoded).to_bytes(4, "big")
        out += encoded
    return bytes(out)
