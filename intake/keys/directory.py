"""The authenticated key directory: which public keys the service may seal to.

What is trusted, and by whom:
- the recovery key: the keyring pins the SHA-256 fingerprint of the one
  public key sealing may use (`keys recovery init|rotate` and `keys
  authenticate` set the pin); an active recovery row with another key is
  refused;
- mission keys and officers' keys: each row carries `key_mac`, HMAC-SHA256
  under a key the keyring derives for this purpose (HKDF), over (kind,
  owner, version, public key). The owner of an officer's key names their
  mission too, so an officer moved to another mission by a database edit
  does not verify.

So write access to the database alone cannot make the service seal a case,
an event or a mission key to a key of the attacker's: sealing raises
`UntrustedKey`, the submission stays a draft, the service logs an ERROR,
`/readyz` fails and `keys verify` / `keys status` exit 1 naming the key.

Not covered (it would need state outside the database per row): a writer
rolling a row back to an earlier state that was itself authenticated (an
officer's previous key, a revoked officer marked active again). Revocations
and key rotations are in the audit log.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from crypto import Authenticator, Keyring, PublicKey, fingerprint
from intake.errors import UntrustedKey
from intake.storage.mission_keys import (
    active_recovery_key_row,
    mission_keys_by_mission_and_version,
)
from intake.storage.models import MissionKey, Officer, RecoveryKey
from intake.storage.officers import active_officers, officers_by_mission_and_id

__all__ = ["DirectoryReport", "KeyDirectory", "authenticate_rows", "directory_problems"]

PURPOSE = "key directory"
_NOT_AUTHENTICATED = "the keyring has no authentication key yet: run `hrd-intake keys authenticate`"


@dataclass(frozen=True)
class DirectoryReport:
    """What `authenticate` did: rows tagged, and the recovery key pinned (its key id)."""

    missions: int
    officers: int
    pinned: str | None


class KeyDirectory:
    """Checks (and, for staff and the layers that create keys, tags) public-key rows.

    Args:
        keyring: the keyring in use (its authentication key and recovery pin).
    """

    def __init__(self, keyring: Keyring) -> None:
        self._pin = keyring.recovery_pin
        self._auth = Authenticator(keyring.auth_key, PURPOSE) if keyring.auth_key else None

    # -- tagging (rows this installation creates) ------------------------------

    def tag_mission(self, row: MissionKey) -> None:
        row.key_mac = self._authenticator("mission", row.mission_id, row.version).tag(
            *_mission_fields(row)
        )

    def tag_officer(self, row: Officer) -> None:
        row.key_mac = self._authenticator("officer", row.id, 0).tag(*_officer_fields(row))

    # -- checking (before anything is sealed to a key) -------------------------

    def mission_key(self, row: MissionKey) -> PublicKey:
        """The public key of a mission key row, if its MAC verifies.

        Raises:
            UntrustedKey: no MAC, a wrong one, or no authentication key in the keyring.
        """
        auth = self._authenticator("mission", row.mission_id, row.version)
        if not auth.verify(row.key_mac, *_mission_fields(row)):
            raise UntrustedKey(
                "mission", row.mission_id, row.version, _why(row.key_mac, "mission key")
            )
        return PublicKey.from_bytes(row.public_key)

    def officer_key(self, row: Officer) -> PublicKey:
        """The public key of an officer row, if its MAC verifies (see `mission_key`)."""
        auth = self._authenticator("officer", row.id, 0)
        if not auth.verify(row.key_mac, *_officer_fields(row)):
            raise UntrustedKey("officer", row.id, 0, _why(row.key_mac, "officer's key"))
        return PublicKey.from_bytes(row.public_key)

    def recovery_key(self, row: RecoveryKey) -> PublicKey:
        """The public key of the active recovery row, if the keyring pins it.

        Raises:
            UntrustedKey: no pin, or the row holds another key than the pinned one.
        """
        if self._pin is None:
            raise UntrustedKey(
                "recovery",
                row.key_id,
                0,
                "the keyring pins no recovery key yet: run `hrd-intake keys authenticate`",
            )
        if fingerprint(row.public_key) != self._pin:
            raise UntrustedKey(
                "recovery",
                row.key_id,
                0,
                "the database's recovery key is not the one the keyring pins (forged, or a"
                " rotation was interrupted: `keys recovery rotate` again)",
            )
        return PublicKey.from_bytes(row.public_key)

    def problems(self, session: Session) -> list[UntrustedKey]:
        """Every key row sealing would refuse: active officers, mission keys, the active recovery key."""
        found: list[UntrustedKey] = []
        recovery = active_recovery_key_row(session)
        checks = [
            *((self.mission_key, row) for row in mission_keys_by_mission_and_version(session)),
            *((self.officer_key, row) for row in active_officers(session)),
        ]
        if recovery is not None:
            try:
                self.recovery_key(recovery)
            except UntrustedKey as exc:
                found.append(exc)
        for check, row in checks:
            try:
                check(row)  # type: ignore[operator]
            except UntrustedKey as exc:
                found.append(exc)
        return found

    def _authenticator(self, kind: str, owner: str, version: int) -> Authenticator:
        if self._auth is None:
            raise UntrustedKey(kind, owner, version, _NOT_AUTHENTICATED)
        return self._auth


def directory_problems(sessions: sessionmaker[Session], keyring: Keyring) -> list[str]:
    """One sentence per key sealing would refuse (for `/readyz`, `keys status`, `keys verify`)."""
    with sessions() as session:
        return [str(problem) for problem in KeyDirectory(keyring).problems(session)]


def authenticate_rows(session: Session, directory: KeyDirectory) -> tuple[int, int]:
    """Tag every mission key row and every officer row as it is now (security staff, once).

    Trust on first use: run right after the upgrade, having checked that no
    one else could write the database since (`keys status` lists the keys).
    Returns (mission rows, officer rows).
    """
    missions = mission_keys_by_mission_and_version(session)
    officers = officers_by_mission_and_id(session)
    for mission in missions:
        directory.tag_mission(mission)
    for officer in officers:
        directory.tag_officer(officer)
    return len(missions), len(officers)


def _mission_fields(row: MissionKey) -> tuple[str, ...]:
    return ("mission", row.mission_id, str(row.version), _b64(row.public_key))


def _officer_fields(row: Officer) -> tuple[str, ...]:
    return ("officer", f"{row.mission_id}/{row.id}", "0", _b64(row.public_key))


def _why(mac: bytes | None, what: str) -> str:
    if mac is None:
        return (
            f"the {what} row carries no MAC (made before the key directory, or by someone"
            " without the keyring): `hrd-intake keys authenticate` if it is yours"
        )
    return f"the {what} row's MAC does not verify (forged or edited in the database)"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
