"""Rotating a mission's key, on schedule or after an officer's key is compromised.

A new version is generated and its private half sealed to the recovery key
and to every active member officer's public key: no unlock is needed, and
from then on new cases and events of the mission are sealed to it. Older
versions stay sealed to the members, so they keep reading older cases.

After a compromise (`officers revoke --compromised`), the mission's open
cases and their events are also re-sealed to the new version, by someone who
can still open them (a remaining officer or the recovery key), and their
seals to older mission key versions are deleted: a copy of an old mission
private key taken by the revoked officer no longer opens them from a later
copy of the database. (What they already read or copied, rotation cannot undo.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.errors import NoKeyAtHand
from intake.keys.directory import KeyDirectory
from intake.keys.holders import (
    KeysAtHand,
    mission_recipient,
    new_mission_key,
    officer_recipient,
    put_seal,
    seal_mission_key,
    trusted_mission_key,
)
from intake.storage.cases import event_ids_of_cases, open_sealed_cases_of_mission
from intake.storage.officers import active_officers_of_mission
from intake.storage.seals import delete_seals_to_other_versions


def rotate_mission_key(
    session: Session, directory: KeyDirectory, mission_id: str, now: datetime
) -> tuple[int, int]:
    """Start a new version of a mission's key; returns (version, members it was sealed to).

    Raises:
        NoKeyAtHand: there is no recovery key to seal it to.
        UntrustedKey: the recovery key or a member's key does not verify (nothing sealed).
    """
    version, private = new_mission_key(session, directory, mission_id, now)
    members = active_officers_of_mission(session, mission_id)
    for officer in members:
        # Who can decrypt: this officer, with their passphrase.
        seal_mission_key(
            session,
            mission_id,
            version,
            private,
            officer_recipient(officer.id),
            directory.officer_key(officer),
            now,
        )
    return version, len(members)


def reseal_open_cases(
    session: Session, directory: KeyDirectory, keys: KeysAtHand, mission_id: str, now: datetime
) -> int:
    """Re-seal the mission's open cases and their events to its current key version.

    Seals to older versions of this mission's key are deleted once the new
    seal is in place (same transaction). Returns how many records moved.

    Raises:
        NoKeyAtHand: the mission has no key, or `keys` cannot open a record.
        crypto.CryptoError: a seal does not open.
        UntrustedKey: the mission's current key does not verify.
    """
    current = trusted_mission_key(session, directory, mission_id)
    if current is None:
        raise NoKeyAtHand(f"{mission_id} has no key")
    version, public = current
    recipient = mission_recipient(mission_id)
    open_cases = open_sealed_cases_of_mission(session, mission_id)
    records = [("case", row.id, row.reference) for row in open_cases]
    case_ids = [row.id for row in open_cases]
    records += [("event", event_id, event_id) for event_id in event_ids_of_cases(session, case_ids)]
    moved = 0
    for record_type, record_id, subject in records:
        secret = keys.open_record_key(session, record_type, record_id, subject)
        # Who can decrypt: the mission's officers holding the new version, and recovery.
        put_seal(session, record_type, record_id, subject, recipient, version, public, secret, now)
        session.flush()
        delete_seals_to_other_versions(session, record_type, record_id, recipient, version)
        moved += 1
    return moved
