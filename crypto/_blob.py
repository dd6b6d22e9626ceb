"""The header every binary blob of the package starts with, checked in one place.

    0      format version (`FORMAT_VERSION`, 1)
    1      blob kind:
             0x01 wrapped data key   (crypto.envelope)
             0x02 field blob         (crypto.envelope)
             0x03 sealed secret      (crypto.sealing)
             0x04 public key         (crypto.hpke_keys)
             0x05 private key        (crypto.hpke_keys)
    2      algorithm id, for the HPKE kinds (0x03 to 0x05; see `crypto._hpke`)

The kind byte keeps one kind of blob from ever being read as another (for
X25519 a public and a private key are both 32 bytes). Reading checks the header
and the size before anything is sliced, so malformed input raises
`UnsupportedFormat`, never IndexError.
"""

from __future__ import annotations

from crypto import _hpke
from crypto.errors import UnsupportedFormat

__all__ = [
    "FIELD",
    "FORMAT_VERSION",
    "PRIVATE_KEY",
    "PUBLIC_KEY",
    "SEALED",
    "WRAPPED_DEK",
    "check_size",
    "header",
    "read_algorithm",
    "read_header",
]

FORMAT_VERSION = 1
WRAPPED_DEK = 0x01
FIELD = 0x02
SEALED = 0x03
PUBLIC_KEY = 0x04
PRIVATE_KEY = 0x05
_NAMES = {
    WRAPPED_DEK: "wrapped data key",
    FIELD: "field blob",
    SEALED: "sealed secret",
    PUBLIC_KEY: "public key",
    PRIVATE_KEY: "private key",
}


def header(kind: int) -> bytes:
    """The two bytes a blob of this kind starts with: format version, kind."""
    return bytes([FORMAT_VERSION, kind])


def read_header(blob: object, kind: int) -> bytes:
    """Check that a blob is bytes of this format version and kind.

    Returns:
        The blob as bytes (at least its two header bytes).

    Raises:
        UnsupportedFormat: empty, another format version, truncated or another kind;
            .what is the kind's name.
        TypeError: blob is not bytes-like.
    """
    what = _NAMES[kind]
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"a {what} must be bytes, not {type(blob).__name__}")
    data = bytes(blob)
    if not data:
        raise UnsupportedFormat(what, None, "malformed: empty")
    if data[0] != FORMAT_VERSION:
        raise UnsupportedFormat(what, data[0], f"unsupported format version {data[0]}")
    if len(data) < 2 or data[1] != kind:
        found = _NAMES.get(data[1], "unknown kind") if len(data) >= 2 else "truncated"
        raise UnsupportedFormat(what, data[0], f"malformed: not a {what} ({found})")
    return data


def read_algorithm(data: bytes, kind: int) -> _hpke.Algorithm:
    """Return the HPKE algorithm named by byte 2 of a blob that passed `read_header`.

    Raises:
        UnsupportedFormat: truncated, or an unknown or unsupported algorithm id.
    """
    what = _NAMES[kind]
    if len(data) < 3:
        raise UnsupportedFormat(what, data[0], f"malformed: not a {what} (truncated)")
    try:
        return _hpke.by_id(data[2])
    except ValueError as exc:
        raise UnsupportedFormat(what, data[0], str(exc)) from None


def check_size(data: bytes, kind: int, size: int, *, exact: bool) -> None:
    """Check a blob's length: exactly size bytes, or at least size.

    Raises:
        UnsupportedFormat: another length.
    """
    if len(data) < size or (exact and len(data) != size):
        expected = f"{size}" if exact else f"at least {size}"
        raise UnsupportedFormat(
            _NAMES[kind], data[0], f"malformed: {len(data)} bytes, expected {expected}"
        )
