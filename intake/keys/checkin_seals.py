"""The alert case of a safety check-in, sealed before it exists.

What is sealed to whom: when a defender starts a check-in, the case that a
missed check-in would raise is written at once: its payload (where they go,
whom to alert) under a fresh data key, and that key sealed (HPKE) to the
routed mission's current key and to the recovery key, bound to the reserved
case reference exactly as a submitted case's key is. The server keeps no
copy of the key, so from the start it cannot read the details; it can only
install these seals as the case's `KeySeal` rows when the alert is raised.
Then mission officers and security staff open the case like any other.

The seals wait in the check-in row (`case_seals`), not in `key_seals`,
because purges drop case seals whose case does not exist.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy.orm import Session

from crypto import seal
from intake.errors import NoKeyAtHand
from intake.keys.directory import KeyDirectory
from intake.keys.holders import (
    _context,  # the one definition of a record seal's HPKE info, shared on purpose
    mission_recipient,
    recovery_recipient,
    trusted_mission_key,
    trusted_recovery_key,
)
from intake.storage.models import KeySeal


def preseal_case_key(
    session: Session, directory: KeyDirectory, reference: str, mission_id: str, secret: bytes
) -> bytes:
    """Seal a future case's data key to the mission's current key and the recovery key.

    Both keys are checked against the keyring first, as for a submitted case.
    Returns the seals, serialised, to keep until `install_case_seals`.

    Raises:
        NoKeyAtHand: there is no recovery key (nothing would be able to open it).
        UntrustedKey: the recovery or mission key does not verify: nothing is sealed.
    """
    recovery = trusted_recovery_key(session, directory)
    mission = trusted_mission_key(session, directory, mission_id)
    if recovery is None:
        raise NoKeyAtHand("no recovery key: run `hrd-intake keys recovery init --out FILE` first")
    targets = [(recovery_recipient(recovery[0]), 1, recovery[1])]
    if mission is not None:
        targets.append((mission_recipient(mission_id), mission[0], mission[1]))
    seals = []
    for recipient, version, public in targets:
        # Who can decrypt: the recipient's private key holders, for this case reference only.
        sealed = seal(public, secret, _context("case", reference, recipient, version))
        seals.append(
            {"recipient": recipient, "version": version, "sealed": base64.b64encode(sealed).decode()}
        )
    return json.dumps(seals).encode("ascii")


def install_case_seals(session: Session, case_id: str, seals: bytes, now: datetime) -> None:
    """Make the pre-sealed key the case's: one `KeySeal` row per recipient."""
    for item in json.loads(seals):  # a new case: no seal of it exists yet
        session.add(
            KeySeal(
                record_type="case",
                record_id=case_id,
                recipient=str(item["recipient"]),
                recipient_version=int(item["version"]),
                sealed=base64.b64decode(item["sealed"]),
                created_at=now,
            )
        )
