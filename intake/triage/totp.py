"""TOTP (RFC 6238) for the web console's fallback second factor, with `pyotp`.

30-second steps, 6 digits, SHA-1 (what every authenticator app takes); a code
is accepted for the current step and one either side (clock drift), and the
login desk refuses a step it already accepted (replay).
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

__all__ = ["new_totp_secret", "totp_step", "totp_uri"]


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step `code` belongs to (now, or one step either side), else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    here = int(now.timestamp()) // 30
    for step in (here, here - 1, here + 1):
        if hmac.compare_digest(totp.at(step * 30), code):
            return step
    return None


def new_totp_secret() -> str:
    """A fresh TOTP secret (160 bits, base32), as authenticator apps take it."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, officer_id: str, issuer: str = "hrd-intake") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=officer_id, issuer_name=issuer)
