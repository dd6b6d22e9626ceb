"""WebAuthn ceremonies for the console, with the `webauthn` library.

Pure functions: options to send to the browser (with the challenge to keep in
the session) and verification of what the browser sent back. The login desk
keeps and checks the credentials; this module only speaks the protocol.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from intake.errors import Refused
from intake.triage.logins import Unlocked, WebAuthnCredential

if TYPE_CHECKING:
    from intake.web.console import WebOptions

__all__ = [
    "PasskeyRefused",
    "authentication_options",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]


class PasskeyRefused(Refused):
    """The browser's WebAuthn answer does not verify."""


def registration_options(options: WebOptions, unlocked: Unlocked) -> tuple[str, bytes]:
    """(JSON for navigator.credentials.create, the challenge)."""
    challenge = secrets.token_bytes(32)
    officer = unlocked.officer
    created = generate_registration_options(
        rp_id=options.rp_id,
        rp_name=options.rp_name,
        user_name=officer.id,
        user_id=officer.id.encode("utf-8"),
        user_display_name=officer.name,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(created), challenge


def authentication_options(
    options: WebOptions, credentials: Sequence[WebAuthnCredential]
) -> tuple[str, bytes]:
    """(JSON for navigator.credentials.get, the challenge)."""
    challenge = secrets.token_bytes(32)
    wanted = generate_authentication_options(
        rp_id=options.rp_id,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c.credential_id))
            for c in credentials
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(wanted), challenge


def verify_registration(options: WebOptions, raw: str, challenge: bytes) -> WebAuthnCredential:
    try:
        verified = verify_registration_response(
            credential=raw,
            expected_challenge=challenge,
            expected_rp_id=options.rp_id,
            expected_origin=options.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError) as exc:
        raise PasskeyRefused(f"security key registration refused: {exc}") from exc
    return WebAuthnCredential(
        factor_id="",
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


def verify_authentication(
    options: WebOptions, raw: str, challenge: bytes, credentials: Sequence[WebAuthnCredential]
) -> tuple[WebAuthnCredential, int]:
    """(the credential used, its new sign count)."""
    try:
        credential_id = str(json.loads(raw)["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused("malformed WebAuthn answer") from exc
    known = [c for c in credentials if c.credential_id == credential_id]
    if not known:
        raise PasskeyRefused("unknown security key")
    try:
        verified = verify_authentication_response(
            credential=raw,
            expected_challenge=challenge,
            expected_rp_id=options.rp_id,
            expected_origin=options.origin,
            credential_public_key=known[0].public_key,
            credential_current_sign_count=known[0].sign_count,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError) as exc:
        raise PasskeyRefused(f"security key refused: {exc}") from exc
    return known[0], verified.new_sign_count
