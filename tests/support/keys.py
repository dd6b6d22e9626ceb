"""Key operations as security staff run them, for tests: rotate, rewrap, verify, submit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from crypto import KeyKind, Keyring, KeyVersion, load_keyring
from intake.core import app, desks
from intake.core.service import ConversationService
from intake.keys.holders import KeysAtHand
from intake.keys.keyring_admin import pin_recovery_key, retire_version, rotate_keyring
from intake.keys.seal_verify import verify_sealed_records
from intake.keys.verify import VerifyReport, verify_keyring_records
from intake.storage.records import RecordCipher
from tests.support.defender import Defender, play
from tests.support.setup import Setup


def pin(setup: Setup) -> Callable[[bytes], None]:
    """Pins a recovery public key in the setup's keyring file, as staff's commands do."""

    def pin_key(public_key: bytes) -> None:
        pin_recovery_key(
            setup.settings.keyring.path, desks.keyring_passphrase(setup.settings), public_key
        )

    return pin_key


def keyring_now(setup: Setup) -> Keyring:
    """The keyring as the file holds it now."""
    return load_keyring(setup.settings.keyring.path, desks.keyring_passphrase(setup.settings))


def rotate(setup: Setup, kind: KeyKind = "kek") -> KeyVersion:
    return rotate_keyring(
        setup.settings.keyring.path, desks.keyring_passphrase(setup.settings), kind, setup.clock()
    )


def fresh_cipher(setup: Setup) -> RecordCipher:
    """A cipher on the keyring file as it is now (a service started after the rotation)."""
    return desks.build_cipher(setup.settings, setup.sessions)


def stale_cipher(setup: Setup) -> RecordCipher:
    """A cipher frozen on the keyring as it is now (a service that will not reload)."""
    keyring = keyring_now(setup)
    return RecordCipher(lambda: keyring)


def retire(setup: Setup, version: int, kind: KeyKind = "kek", *, after_grace: bool = True) -> bool:
    """Retire as staff would, by default once the grace period after the rotation has passed."""
    grace = timedelta(minutes=setup.settings.keys.retire_grace_minutes)
    with setup.sessions() as session:
        return retire_version(
            setup.settings.keyring.path,
            desks.keyring_passphrase(setup.settings),
            session,
            kind,
            version,
            setup.clock() + (grace if after_grace else timedelta(0)),
            grace,
        )


def verify(setup: Setup, cipher: RecordCipher, recovery: KeysAtHand | None) -> VerifyReport:
    report = VerifyReport()
    verify_keyring_records(setup.sessions, cipher, report)
    verify_sealed_records(setup.sessions, cipher, report, recovery)
    return report


def service(setup: Setup, cipher: RecordCipher) -> ConversationService:
    """The conversation service on a given cipher (fresh or stale keyring)."""
    return app.build_service(setup.settings, setup.sessions, cipher, clock=setup.clock)


def submit(
    setup: Setup,
    script: list[tuple[str, str]],
    sender: str = "d1",
    cipher: RecordCipher | None = None,
) -> tuple[Defender, str]:
    defender = Defender(service(setup, cipher or setup.cipher), sender=sender)
    defender.send("/start")
    play(defender, script)
    return defender, defender.reference()
