"""Liaison officers: enrolment, unlocking their key, revocation, passphrase change.

An officer's private key is wrapped under a key derived from their
passphrase (Argon2id, parameters stored beside it); the server keeps only
that wrapped form and the public key. Enrolling seals every version of the
mission's key to the new officer, which needs the mission key opened by an
existing member or by the recovery key; the first officer of a mission
creates its key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crypto import (
    KdfParams,
    generate_keypair,
    rewrap_private_key,
    unwrap_private_key,
    wrap_private_key,
)
from intake.errors import NoKeyAtHand, NoReaders, OfficerRefused
from intake.keys.directory import KeyDirectory
from intake.keys.holders import (
    KeysAtHand,
    new_mission_key,
    officer_recipient,
    seal_mission_key,
)
from intake.keys.readers import mission_readers
from intake.references import new_officer_id, parse_officer_id
from intake.storage.mission_keys import mission_key_versions
from intake.storage.models import Officer
from intake.storage.officers import officer_by_id, officers_by_mission_and_id
from intake.storage.seals import delete_mission_key_seals_to, mission_key_records_held_by
from intake.triage.missions import mission_exists

# What the audit log names instead of an id as typed that is no officer's: never what was
# typed (a passphrase typed into the id field would stay in plaintext for good), not even a
# hash of it (a short passphrase hashed is guessed offline).
UNKNOWN_ID = "unknown-id"


def find_officer(session: Session, typed: str) -> Officer | None:
    """The officer (active or revoked) whose id was typed; what is not shaped like one is not looked up."""
    officer_id = parse_officer_id(typed)
    return None if officer_id is None else officer_by_id(session, officer_id)


def get_officer(session: Session, officer_id: str) -> Officer:
    """`find_officer`, or refuse (the message does not repeat what was typed).

    Raises:
        OfficerRefused: no such officer.
    """
    officer = find_officer(session, officer_id)
    if officer is None:
        raise OfficerRefused("no such officer")
    return officer


def named_officer(session: Session, typed: str) -> str:
    """What an audit entry may say of an id as typed: itself if it is an officer's, else UNKNOWN_ID."""
    officer = find_officer(session, typed)
    return UNKNOWN_ID if officer is None else officer.id


def active_officer(session: Session, officer_id: str) -> Officer:
    officer = get_officer(session, officer_id)
    if officer.status != "active":
        raise OfficerRefused(f"officer {officer_id} is revoked")
    return officer


def enrol(
    session: Session,
    directory: KeyDirectory,
    *,
    mission_id: str,
    name: str,
    passphrase: bytes,
    now: datetime,
    unlock: KeysAtHand | None = None,
    kdf: KdfParams | None = None,
) -> tuple[Officer, bool]:
    """Enrol an officer in a mission; returns (officer, whether the mission key was created).

    Raises:
        OfficerRefused: unknown mission.
        NoKeyAtHand: the mission has a key and `unlock` cannot open it, or
            there is no recovery key to seal a first mission key to.
        UntrustedKey: the recovery key is not the pinned one (a first mission key).
    """
    if not mission_exists(session, mission_id):
        raise OfficerRefused(f"no mission {mission_id!r} in the directory")
    officer_id = new_officer_id(name)
    private, public = generate_keypair()
    officer = Officer(
        id=officer_id,
        name=name,
        mission_id=mission_id,
        public_key=public.to_bytes(),
        key_id=public.key_id,
        # Who can decrypt: whoever knows the officer's passphrase.
        wrapped_private_key=wrap_private_key(private, passphrase, officer_id, kdf or KdfParams()),
        status="active",
        created_at=now,
        key_created_at=now,
    )
    directory.tag_officer(officer)
    versions = mission_key_versions(session, mission_id)
    created = False
    if not versions:
        version, mission_private = new_mission_key(session, directory, mission_id, now)
        mission_keys = {version: mission_private}
        created = True
    else:
        if unlock is None:
            raise NoKeyAtHand(
                f"{mission_id} already has a key: enrolment needs an existing member's "
                "unlock (--by) or the recovery key (--recovery-key)"
            )
        mission_keys = {v: unlock.mission_private_key(session, mission_id, v) for v in versions}
    session.add(officer)
    for version, mission_private in mission_keys.items():
        seal_mission_key(
            session,
            mission_id,
            version,
            mission_private,
            officer_recipient(officer_id),
            public,
            now,
        )
    return officer, created


def unlock(session: Session, officer_id: str, passphrase: bytes) -> KeysAtHand:
    """Open an officer's private key with their passphrase (Argon2id: deliberately slow).

    Raises:
        OfficerRefused: unknown or revoked officer.
        crypto.BadPassphrase: wrong passphrase.
    """
    officer = active_officer(session, officer_id)
    private = unwrap_private_key(officer.wrapped_private_key, passphrase, officer_id)
    return KeysAtHand(officer_recipient(officer_id), private, officer.mission_id)


def revoke(session: Session, officer_id: str, now: datetime, force: bool = False) -> int:
    """Revoke an officer: their sealed copies of mission keys are deleted. Returns how many.

    Raises:
        OfficerRefused: unknown officer.
        NoReaders: they are the last active officer able to open their mission's cases
            (the mission's cases, and those to come, would wait unseen), unless `force`.
    """
    officer = get_officer(session, officer_id)
    if not force:
        refuse_last_reader(session, officer)
    officer.status = "revoked"
    officer.revoked_at = now
    return delete_mission_key_seals_to(session, officer_recipient(officer_id))


def refuse_last_reader(session: Session, officer: Officer) -> None:
    """Raise NoReaders when `officer` is the last active one who can open their mission's cases."""
    if officer.status == "active" and mission_readers(session, officer.mission_id) == {officer.id}:
        raise NoReaders(
            officer.mission_id,
            f"{officer.id} is the last active officer who can open {officer.mission_id}'s "
            "cases: revoked, they would wait unseen",
            "enrol another officer first (hrd-intake officers add --mission "
            f"{officer.mission_id} ... --by {officer.id}), or add --force to revoke anyway",
        )


def rotate_key(
    session: Session,
    directory: KeyDirectory,
    officer_id: str,
    passphrase: bytes,
    now: datetime,
    new_passphrase: bytes | None = None,
    kdf: KdfParams | None = None,
) -> int:
    """Replace an officer's key pair; returns how many mission key seals moved to the new one.

    The old private key (unlocked with `passphrase`) opens each sealed copy of
    the mission's key versions, which are sealed again to the new public key
    (same rows: the recipient stays `officer:<id>`). The new private key is
    wrapped under `new_passphrase`, or the same passphrase. One transaction:
    it all moves or nothing does.

    Raises:
        OfficerRefused: unknown or revoked officer.
        crypto.BadPassphrase: wrong passphrase.
        NoKeyAtHand, crypto.CryptoError: a sealed copy does not open.
    """
    old_keys = unlock(session, officer_id, passphrase)
    officer = active_officer(session, officer_id)
    recipient = officer_recipient(officer_id)
    held = mission_key_records_held_by(session, recipient)
    private, public = generate_keypair()
    moved = 0
    for record in held:
        mission_id, _, version = record.rpartition("/")
        mission_private = old_keys.mission_private_key(session, mission_id, int(version))
        # Who can decrypt: this officer's new key pair (and no longer the old one).
        seal_mission_key(session, mission_id, int(version), mission_private, recipient, public, now)
        moved += 1
    officer.public_key = public.to_bytes()
    officer.key_id = public.key_id
    officer.key_created_at = now
    directory.tag_officer(officer)
    # Who can decrypt: whoever knows the officer's (possibly new) passphrase.
    officer.wrapped_private_key = wrap_private_key(
        private, new_passphrase or passphrase, officer_id, kdf or KdfParams()
    )
    return moved


def change_passphrase(
    session: Session, officer_id: str, old: bytes, new: bytes, kdf: KdfParams | None = None
) -> None:
    """Rewrap one row: the key pair and every seal stay as they are."""
    officer = active_officer(session, officer_id)
    officer.wrapped_private_key = rewrap_private_key(
        officer.wrapped_private_key, old, new, officer_id, kdf or KdfParams()
    )


def list_officers(session: Session, mission_id: str | None = None) -> list[Officer]:
    return officers_by_mission_and_id(session, mission_id)
