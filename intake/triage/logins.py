"""Officers' web logins: passphrase, then a second factor; enrolment; lockout with backoff.

What is kept, and who can read it:

- TOTP secrets and WebAuthn credentials (`web_factors.secret_ct`) are sealed
  (HPKE) to the officer's own public key: only the officer's passphrase opens
  them, and the console asks for it first. A stolen database yields no TOTP
  secret. Each row also carries a MAC (keyed HMAC under the keyring's
  pseudonym key) over its officer, kind, credential id and ciphertext, so
  write access to the database alone cannot slip in a factor of the
  attacker's (they could seal one to the officer's public key, not MAC it).
- Enrolment codes (`officers web-enrol ID`) are kept as SHA-256 hashes of
  128 random bits, valid 72 hours, used once.
- Failed attempts in a row and the lockout end (`web_lockouts`): plaintext,
  for officers; for ids that are nobody's, in memory only.
- Audit entries name the id typed only if it is an officer's, else `unknown-id`.

A failure at any stage (unknown officer, wrong passphrase, wrong code) answers
the same sentence, takes as long (`intake.triage.decoy`), and counts against
the id typed, real or not, with backoff (`intake.triage.lockout`). Every
failure, lockout and login is in the audit log. Before any of it, the console
takes each attempt from its client address's allowance (`intake.triage.throttle`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.orm import Session, sessionmaker

from crypto import (
    BadPassphrase,
    CryptoError,
    KdfParams,
    PublicKey,
    SealContext,
    open_sealed,
    seal,
)
from intake.errors import OfficerRefused
from intake.keys.holders import officer_recipient
from intake.references import parse_officer_id
from intake.storage import web_login
from intake.storage.audit import AuditTrail
from intake.storage.models import Officer, WebFactor
from intake.storage.records import RecordCipher, new_record_id
from intake.triage.decoy import DecoyKey
from intake.triage.desk import Acting
from intake.triage.lockout import FREE_FAILURES, REFUSED, Lockout
from intake.triage.officers import active_officer, unlock
from intake.triage.totp import new_totp_secret, totp_step, totp_uri

__all__ = [
    "ENROLMENT_VALIDITY",
    "FREE_FAILURES",
    "REFUSED",
    "LoginDesk",
    "Unlocked",
    "WebAuthnCredential",
    "new_totp_secret",
    "totp_uri",
]

ENROLMENT_VALIDITY = timedelta(hours=72)
_MAC_NAMESPACE = "web-factor"


@dataclass(frozen=True)
class Unlocked:
    """An officer past the passphrase: their keys, and which factors they have."""

    acting: Acting
    factors: frozenset[str]

    @property
    def officer(self) -> Officer:
        assert self.acting.officer is not None  # noqa: S101 - built only for officers
        return self.acting.officer


@dataclass(frozen=True)
class WebAuthnCredential:
    """A registered security key: what `webauthn` needs to check an assertion."""

    factor_id: str
    credential_id: str
    public_key: bytes
    sign_count: int


def _hash_code(code: str) -> str:
    return hashlib.sha256(
        code.strip().replace("-", "").upper().encode("ascii", "replace")
    ).hexdigest()


def _context(factor_id: str, officer_id: str) -> SealContext:
    return SealContext(
        purpose="web-factor",
        subject=factor_id,
        recipient=officer_recipient(officer_id),
        recipient_version=1,
    )


class LoginDesk:
    """Decides web logins and enrolments; one transaction and audit entry per step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        trail: AuditTrail,
        clock: Callable[[], datetime],
        kdf: KdfParams | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._trail = trail
        self._clock = clock
        self._lockout = Lockout(sessions, trail, clock)
        # One Argon2id run, here: `kdf` is the cost officers' keys have (the default).
        self.decoy = DecoyKey(kdf or KdfParams())

    # Security staff

    def new_enrolment_code(self, officer_id: str, actor: str = "operator") -> str:
        """A one-time code for the officer's first web login (replaces an older one)."""
        code = "-".join(secrets.token_hex(8).upper()[i : i + 4] for i in range(0, 16, 4))
        now = self._clock()
        with self._sessions.begin() as session:
            officer = active_officer(session, officer_id)
            web_login.put_enrolment(
                session, officer.id, _hash_code(code), now + ENROLMENT_VALIDITY, now
            )
            self._trail.append(session, now, actor, "web.enrol_code", officer.id)
        self._trail.synced()
        return code

    # Step 1: the passphrase

    def unlock(self, typed_id: str, passphrase: bytes) -> Unlocked:
        """Check the lockout, then open the officer's key (Argon2id: ~150 ms).

        `typed_id` is what was typed as the officer id: anything not shaped like
        one (`parse_officer_id`: at most 45 characters) is never looked up. When
        no active officer has it, the passphrase is tried on the decoy key
        (`intake.triage.decoy`: the same Argon2id run) and refused like a wrong
        one, so the answer's time does not tell which ids exist.

        Raises:
            LoginRefused: locked out (with `retry_after`), or any of id and passphrase wrong.
        """
        self._lockout.check(typed_id)
        officer_id = parse_officer_id(typed_id)
        with self._sessions() as session:
            try:
                if officer_id is None:
                    raise OfficerRefused("not an officer id")
                officer = active_officer(session, officer_id)
            except OfficerRefused as exc:  # its message never repeats the id
                session.rollback()
                self.decoy.open(passphrase)
                self._lockout.failed(typed_id, "passphrase", str(exc))
            try:
                keys = unlock(session, officer_id, passphrase)
            except (OfficerRefused, BadPassphrase) as exc:
                reason = "wrong passphrase" if isinstance(exc, BadPassphrase) else str(exc)
                session.rollback()
                self._lockout.failed(officer_id, "passphrase", reason)
            kinds = frozenset(f.kind for f in web_login.factors_of(session, officer.id))
            session.expunge(officer)
        return Unlocked(Acting(officer, keys), kinds)

    # Step 2: the second factor

    def check_totp(self, unlocked: Unlocked, code: str) -> None:
        """Accept a TOTP code (this 30 s step or the one either side), never the same step twice.

        Raises:
            LoginRefused: wrong or replayed code, or locked out.
        """
        officer = unlocked.officer
        self._lockout.check(officer.id)
        now = self._clock()
        with self._sessions.begin() as session:
            for factor in web_login.factors_of(session, officer.id, "totp"):
                secret = self._open_factor(factor, unlocked)
                if secret is None:
                    continue
                step = totp_step(secret.decode("ascii"), code, now)
                if step is not None and step > factor.counter:
                    factor.counter = step
                    factor.mac = self._mac(factor)
                    self._lockout.logged_in(session, officer.id, "totp", now)
                    break
            else:
                session.rollback()
                self._lockout.failed(officer.id, "totp", "wrong or reused TOTP code")
        self._trail.synced()

    # Enrolment (first login)

    def check_enrolment_code(self, unlocked: Unlocked, code: str) -> None:
        """The one-time code from security staff, before a first factor is added.

        Raises:
            LoginRefused: no pending code, expired, or not this one.
        """
        officer = unlocked.officer
        self._lockout.check(officer.id)
        with self._sessions() as session:
            row = web_login.enrolment_of(session, officer.id)
            good = (
                row is not None
                and row.expires_at > self._clock()
                and hmac.compare_digest(row.code_hash, _hash_code(code))
            )
        if not good:
            self._lockout.failed(officer.id, "enrolment", "enrolment code not accepted")

    def add_totp(self, unlocked: Unlocked, enrolment_code: str, secret: str, code: str) -> None:
        """Keep a new TOTP secret once the officer typed a code it makes; uses up the enrolment.

        Raises:
            LoginRefused: the enrolment code is no longer good, or the TOTP code is wrong.
        """
        self.check_enrolment_code(unlocked, enrolment_code)
        now = self._clock()
        step = totp_step(secret, code, now)
        if step is None:
            self._lockout.failed(unlocked.officer.id, "enrolment", "TOTP code does not match the secret")
        self._add_factor(unlocked, "totp", None, secret.encode("ascii"), step, now)

    def add_webauthn(
        self, unlocked: Unlocked, enrolment_code: str, credential: WebAuthnCredential
    ) -> None:
        """Keep a verified security key registration; uses up the enrolment."""
        self.check_enrolment_code(unlocked, enrolment_code)
        blob = json.dumps(
            {"public_key": credential.public_key.hex(), "sign_count": credential.sign_count}
        ).encode("ascii")
        self._add_factor(
            unlocked,
            "webauthn",
            credential.credential_id,
            blob,
            credential.sign_count,
            self._clock(),
        )

    # WebAuthn login

    def webauthn_credentials(self, unlocked: Unlocked) -> list[WebAuthnCredential]:
        """The officer's security keys whose rows open and verify."""
        found = []
        with self._sessions() as session:
            for factor in web_login.factors_of(session, unlocked.officer.id, "webauthn"):
                blob = self._open_factor(factor, unlocked)
                if blob is None or factor.credential_id is None:
                    continue
                data: dict[str, Any] = json.loads(blob)
                found.append(
                    WebAuthnCredential(
                        factor.id,
                        factor.credential_id,
                        bytes.fromhex(str(data["public_key"])),
                        factor.counter,
                    )
                )
        return found

    def webauthn_ok(
        self, unlocked: Unlocked, credential: WebAuthnCredential, sign_count: int
    ) -> None:
        """Record a verified assertion: its sign count, and the login."""
        now = self._clock()
        with self._sessions.begin() as session:
            for factor in web_login.factors_of(session, unlocked.officer.id, "webauthn"):
                if factor.id == credential.factor_id:
                    factor.counter = sign_count
                    factor.mac = self._mac(factor)
            self._lockout.logged_in(session, unlocked.officer.id, "webauthn", now)
        self._trail.synced()

    def webauthn_failed(self, officer_id: str, reason: str) -> NoReturn:
        """Count and audit a security key answer that did not verify, and refuse."""
        self._lockout.failed(officer_id, "webauthn", reason)

    def logged_out(self, officer_id: str, why: str) -> None:
        with self._sessions.begin() as session:
            self._trail.append(
                session, self._clock(), f"officer:{officer_id}", "web.logout", officer_id, why=why
            )
        self._trail.synced()

    # Internals

    def _add_factor(
        self,
        unlocked: Unlocked,
        kind: str,
        credential_id: str | None,
        secret: bytes,
        counter: int,
        now: datetime,
    ) -> None:
        officer = unlocked.officer
        factor_id = new_record_id()
        public = PublicKey.from_bytes(officer.public_key)
        factor = WebFactor(
            id=factor_id,
            officer_id=officer.id,
            kind=kind,
            credential_id=credential_id,
            # Who can decrypt: the officer (their passphrase opens their private key).
            secret_ct=seal(public, secret, _context(factor_id, officer.id)),
            counter=counter,
            mac="",
            created_at=now,
        )
        factor.mac = self._mac(factor)
        with self._sessions.begin() as session:
            web_login.add_factor(session, factor)
            web_login.delete_enrolment(session, officer.id)
            self._trail.append(
                session, now, f"officer:{officer.id}", "web.factor_added", officer.id, kind=kind
            )
            self._lockout.logged_in(session, officer.id, kind, now)
        self._trail.synced()

    def _mac(self, factor: WebFactor) -> str:
        return self._cipher.pseudonym(_MAC_NAMESPACE, _mac_input(factor))[1]

    def _open_factor(self, factor: WebFactor, unlocked: Unlocked) -> bytes | None:
        """The factor's secret, if its MAC verifies and it opens with the officer's key."""
        candidates = self._cipher.pseudonym_candidates(_MAC_NAMESPACE, _mac_input(factor))
        if not any(hmac.compare_digest(mac, factor.mac) for _v, mac in candidates):
            return None
        keys = unlocked.acting.require_keys()
        try:
            return open_sealed(
                keys.private, factor.secret_ct, _context(factor.id, factor.officer_id)
            )
        except CryptoError:
            return None  # sealed to an earlier key pair of the officer: re-enrol


def _mac_input(factor: WebFactor) -> str:
    return "|".join(
        (
            factor.id,
            factor.officer_id,
            factor.kind,
            factor.credential_id or "",
            str(factor.counter),
            hashlib.sha256(factor.secret_ct).hexdigest(),
        )
    )
