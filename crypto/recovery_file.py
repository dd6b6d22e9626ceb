"""The offline recovery private key, as an ASCII-armored file.

The recovery key opens every case and every mission key. Security staff
generate it; only its public key stays on the server. The private key is
written once, as this file, to be moved offline at once. Writing the file
(mode 0600) and reading it are the caller's job; this module only encodes it.

File format (ASCII; CRLF line ends accepted on reading):

    -----BEGIN HRD-INTAKE RECOVERY KEY-----
    Comment: <instructions to keep it offline; any number of Comment lines>
    Key-Id: <16 hex digits, the public key's key_id>

    <base64 of (serialized private key || checksum), lines of 64 characters>
    -----END HRD-INTAKE RECOVERY KEY-----

The checksum is SHA-256(serialized private key)[:4]: it catches a mistyped or
damaged copy, it is not a MAC. Loading also checks the Key-Id line against the
key, so the label a person reads matches what the file holds.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from cryptography.hazmat.primitives import hashes

from crypto.errors import UnsupportedFormat
from crypto.hpke_keys import PrivateKey

__all__ = ["export_recovery_key", "load_recovery_key"]

_WHAT = "recovery key file"
_BEGIN = "-----BEGIN HRD-INTAKE RECOVERY KEY-----"
_END = "-----END HRD-INTAKE RECOVERY KEY-----"
_COMMENTS = (
    "KEEP THIS FILE OFFLINE. It opens every case and every mission key.",
    "Move it now to offline storage (an encrypted drive in a safe), keep a second",
    "copy elsewhere, and delete it from this machine. Never email or upload it.",
)
_COMMENT = "Comment"
_KEY_ID = "Key-Id"
_CHECKSUM_SIZE = 4
_LINE_WIDTH = 64
_MAX_SIZE = 16 * 1024


def export_recovery_key(private: PrivateKey) -> bytes:
    """Encode the recovery private key as an armored file (layout in the module docstring).

    Returns:
        The file's bytes; whoever holds them can open every case: write them with
        mode 0600 and move them offline.
    """
    payload = private.to_bytes()
    body = base64.b64encode(payload + _checksum(payload)).decode("ascii")
    lines = [_BEGIN]
    lines += [f"{_COMMENT}: {text}" for text in _COMMENTS]
    lines += [f"{_KEY_ID}: {private.public_key().key_id}", ""]
    lines += [body[i : i + _LINE_WIDTH] for i in range(0, len(body), _LINE_WIDTH)]
    lines.append(_END)
    return ("\n".join(lines) + "\n").encode("ascii")


def load_recovery_key(data: bytes) -> PrivateKey:
    """Decode an armored recovery key file.

    Raises:
        UnsupportedFormat: not ASCII, no or misplaced armor lines, an unknown or
            missing header, bad base64, checksum mismatch, a Key-Id that does not
            match, or a serialized key that does not parse.
        TypeError: data is not bytes-like.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a {_WHAT} must be bytes, not {type(data).__name__}")
    if len(data) > _MAX_SIZE:
        raise _malformed(f"larger than {_MAX_SIZE} bytes")
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise _malformed("not ASCII") from None
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _BEGIN or lines[-1] != _END:
        raise _malformed("no recovery key armor lines")
    key_id, body = _split(lines[1:-1])
    try:
        raw = base64.b64decode(body.encode("ascii"), validate=True)
    except binascii.Error:
        raise _malformed("the key is not base64") from None
    payload, checksum = raw[:-_CHECKSUM_SIZE], raw[-_CHECKSUM_SIZE:]
    if len(raw) <= _CHECKSUM_SIZE or not hmac.compare_digest(checksum, _checksum(payload)):
        raise _malformed("checksum mismatch (a damaged or mistyped copy)")
    try:
        private = PrivateKey.from_bytes(payload)
    except UnsupportedFormat as exc:
        raise UnsupportedFormat(_WHAT, exc.format_version, f"the key: {exc.reason}") from None
    if private.public_key().key_id != key_id:
        raise _malformed(f"the {_KEY_ID} line does not match the key")
    return private


def _split(lines: list[str]) -> tuple[str, str]:
    """Split the lines between the armor into (Key-Id value, base64 body).

    Raises:
        UnsupportedFormat: an unknown header, no or two Key-Id lines, no blank line,
            or no body.
    """
    try:
        blank = lines.index("")
    except ValueError:
        raise _malformed("no blank line after the headers") from None
    key_ids: list[str] = []
    for line in lines[:blank]:
        name, sep, value = line.partition(":")
        if not sep or name not in (_COMMENT, _KEY_ID):
            raise _malformed("unknown header line")
        if name == _KEY_ID:
            key_ids.append(value.strip())
    if len(key_ids) != 1:
        raise _malformed(f"expected one {_KEY_ID} line")
    body = "".join(lines[blank + 1 :])
    if not body:
        raise _malformed("no key")
    return key_ids[0], body


def _checksum(payload: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(payload)
    return digest.finalize()[:_CHECKSUM_SIZE]


def _malformed(reason: str) -> UnsupportedFormat:
    return UnsupportedFormat(_WHAT, None, f"malformed: {reason}")
