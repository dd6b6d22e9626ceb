"""Byte encodings shared by the package's formats.

`length_prefixed`: an unambiguous encoding of several strings (for associated
data and MAC input). Each part is its UTF-8 bytes preceded by their length as 4
bytes big-endian, so ("ab", "c") and ("a", "bc") never encode alike.

`b64` / `from_b64`: standard base64 with padding, as the JSON formats (keyring
file, wrapped private key) store bytes; reading accepts nothing else.
"""

from __future__ import annotations

import base64

__all__ = ["b64", "from_b64", "length_prefixed"]


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


def b64(data: bytes) -> str:
    """Standard base64 of data, with padding, as ASCII text."""
    return base64.b64encode(data).decode("ascii")


def from_b64(text: object) -> bytes:
    """Decode standard base64 text strictly.

    Raises:
        ValueError: text is not a string, not ASCII, or not strict base64 (no
            characters outside the alphabet, correct padding).
    """
    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    # UnicodeEncodeError and binascii.Error are both ValueErrors.
    return base64.b64decode(text.encode("ascii"), validate=True)
