"""The officers' web console: second factors, enrolment codes, lockouts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from intake.storage.models.core import Base
from intake.storage.types import UTCDateTime


class WebFactor(Base):
    """An officer's second factor for the web console: a TOTP secret or a WebAuthn credential.

    `secret_ct` is sealed (HPKE) to the officer's own public key: for TOTP the shared
    secret, for WebAuthn the credential's public key and sign count (JSON). Only the
    officer's passphrase opens it, which the console asks for first. `mac` (HMAC under
    a keyring key) binds the row's plaintext columns and ciphertext, so write access to
    the database alone cannot add a factor of the attacker's.
    """

    __tablename__ = "web_factors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    officer_id: Mapped[str] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # "totp" | "webauthn"
    # WebAuthn: the credential id (base64url), which the browser names at login.
    credential_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    secret_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # The last TOTP time step or WebAuthn sign count accepted: refuses a replay.
    counter: Mapped[int] = mapped_column(BigInteger, default=0)
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebEnrolment(Base):
    """A one-time enrolment code from security staff (`officers web-enrol ID`): only its hash."""

    __tablename__ = "web_enrolments"

    officer_id: Mapped[str] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebLockout(Base):
    """Failed web logins of an officer in a row, and until when they are locked out."""

    __tablename__ = "web_lockouts"

    officer_id: Mapped[str] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), primary_key=True
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
