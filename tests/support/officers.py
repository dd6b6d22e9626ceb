"""Enrolling officers for a test (cheap key derivation; real keys and seals)."""

from __future__ import annotations

from intake.keys.holders import KeysAtHand
from intake.triage import officers
from tests.conftest import CHEAP_KDF
from tests.support.setup import Setup


def enrol(
    setup: Setup,
    mission: str,
    name: str,
    passphrase: bytes = b"correct horse battery staple",
    unlock: KeysAtHand | None = None,
) -> tuple[str, KeysAtHand]:
    """Enrol an officer (the mission's first, or opened by `unlock`); returns (id, their keys)."""
    with setup.sessions.begin() as session:
        officer, _ = officers.enrol(
            session,
            setup.directory,
            mission_id=mission,
            name=name,
            passphrase=passphrase,
            now=setup.clock(),
            unlock=unlock,
            kdf=CHEAP_KDF,
        )
        officer_id = officer.id
    with setup.sessions() as session:
        return officer_id, officers.unlock(session, officer_id, passphrase)
