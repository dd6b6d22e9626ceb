"""Security staff's officer desk: enrolment, revocation, key rotation, passphrase change.

Every entry point (the CLI) comes here: the desk checks the request, runs it
in one transaction with its audit entries, and records refusals in the
audit log before raising them. The entry points ask (passphrases, files) and
print; the order of the questions is theirs, the checks are made here, so a
request that will be refused is refused before anyone types a passphrase:
`enrolment_unlock_needed` and `revocation_plan` answer that up front.

Who can decrypt what after each step:
- enrolment: the newcomer (with their passphrase) gets every version of the
  mission's key, opened by an existing member's key or the recovery key;
- revocation: the officer's sealed copies of mission keys are deleted; by
  default the mission key is rotated and the open cases re-sealed to the new
  version (`--keep-mission-key` skips that for a benign departure, audited
  as such), so a copy of the old mission key the officer kept opens no open
  case from a later copy of the database;
- key rotation: the officer's new key pair receives the same mission key
  versions as the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from crypto import BadPassphrase, CryptoError, KdfParams
from intake.errors import NoKeyAtHand, OfficerRefused, PassphraseRefused, Refused, UntrustedKey
from intake.keys.directory import KeyDirectory
from intake.keys.holders import KeysAtHand, current_mission_key
from intake.keys.mission_keys import reseal_open_cases, rotate_mission_key
from intake.references import MissionId, OfficerId
from intake.storage.audit import AuditTrail
from intake.triage import officers
from intake.triage.missions import mission_exists

__all__ = [
    "MIN_PASSPHRASE_CHARS",
    "Enrolment",
    "Revocation",
    "StaffDesk",
    "check_new_passphrase",
]

MIN_PASSPHRASE_CHARS = 12


def check_new_passphrase(passphrase: bytes) -> None:
    """The one passphrase policy for officers' new passphrases.

    Raises:
        PassphraseRefused: too short (counted in characters, not bytes), or not UTF-8.
    """
    try:
        text = passphrase.decode("utf-8")
    except UnicodeDecodeError:
        raise PassphraseRefused("the passphrase is not valid UTF-8 text") from None
    if len(text.strip()) < MIN_PASSPHRASE_CHARS:
        raise PassphraseRefused(
            f"the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters"
            " (a few words is best)"
        )


@dataclass(frozen=True)
class Enrolment:
    officer_id: OfficerId
    mission_id: MissionId
    key_id: str
    mission_key_created: bool


@dataclass(frozen=True)
class Revocation:
    officer_id: OfficerId
    mission_id: MissionId
    seals_deleted: int
    # None when the mission key was kept (--keep-mission-key).
    mission_version: int | None = None
    members: int = 0
    resealed: int = 0


class StaffDesk:
    """Officer administration, one transaction and its audit entries per step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        directory: Callable[[], KeyDirectory],
        trail: AuditTrail,
        clock: Callable[[], datetime],
        kdf: KdfParams | None = None,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._trail = trail
        self._clock = clock
        self._kdf = kdf

    # Who acts

    def unlock(self, officer_id: str, passphrase: bytes, action: str, subject: str) -> KeysAtHand:
        """An officer's keys, opened to act for another (a wrong passphrase is audited)."""
        with self._sessions() as session:
            try:
                return officers.unlock(session, officer_id, passphrase)
            except BadPassphrase:
                self._refuse(
                    f"officer:{officer_id}",
                    action,
                    subject,
                    Refused(f"cannot unlock {officer_id}: wrong passphrase"),
                )
            except OfficerRefused as exc:
                named = self._named(officer_id)
                self._refuse(
                    f"officer:{named}",
                    action,
                    subject,
                    OfficerRefused(f"cannot unlock {named}: {exc}"),
                )

    # Enrolment

    def check_enrolment(self, mission_id: str, *, unlocker_named: bool) -> None:
        """Refuse an enrolment that cannot work, before anyone is asked for a passphrase.

        Raises:
            OfficerRefused: unknown mission.
            NoKeyAtHand: the mission has a key and no member (--by) nor the
                recovery key is named to open it for the newcomer.
        """
        with self._sessions() as session:
            if not mission_exists(session, mission_id):
                raise OfficerRefused(f"no mission {mission_id!r} in the directory")
            has_key = current_mission_key(session, mission_id) is not None
        if has_key and not unlocker_named:
            raise NoKeyAtHand(
                f"{mission_id} already has a key: enrolment needs an existing member's "
                "unlock (--by) or the recovery key (--recovery-key)"
            )

    def enrol(
        self, mission_id: str, name: str, passphrase: bytes, unlock: KeysAtHand | None
    ) -> Enrolment:
        """Enrol an officer; the first of a mission creates its key.

        Raises:
            PassphraseRefused, OfficerRefused, NoKeyAtHand (audited when refused in the act).
        """
        check_new_passphrase(passphrase)
        now = self._clock()
        actor = unlock.recipient if unlock else "operator"
        with self._sessions.begin() as session:
            try:
                officer, created = officers.enrol(
                    session,
                    self._directory(),
                    mission_id=mission_id,
                    name=name,
                    passphrase=passphrase,
                    now=now,
                    unlock=unlock,
                    kdf=self._kdf,
                )
            except (OfficerRefused, NoKeyAtHand, CryptoError, UntrustedKey) as exc:
                session.rollback()
                self._refuse(actor, "officer.enrol", mission_id, exc)
            self._trail.append(session, now, actor, "officer.enrol", officer.id, mission=mission_id)
            if created:
                self._trail.append(session, now, actor, "key.mission.create", mission_id, version=1)
            result = Enrolment(
                OfficerId(officer.id), MissionId(mission_id), officer.key_id, created
            )
        self._trail.synced()
        return result

    # Revocation

    def revocation_plan(
        self,
        officer_id: str,
        by: str | None,
        *,
        recovery: bool,
        keep_mission_key: bool,
        force: bool = False,
    ) -> MissionId:
        """Check a revocation before anyone is asked for a passphrase; returns the mission.

        Raises:
            OfficerRefused: unknown officer, already revoked, or `by` is the officer.
            NoReaders: the last officer able to open the mission's cases, unless `force`.
            NoKeyAtHand: the mission key is to be rotated and neither a member
                (`by`) nor the recovery key (`recovery`) is named.
        """
        with self._sessions() as session:
            officer = officers.get_officer(session, officer_id)
            if officer.status == "revoked":
                raise OfficerRefused(f"officer {officer_id} is already revoked")
            if not force:
                officers.refuse_last_reader(session, officer)
            mission_id = MissionId(officer.mission_id)
        if keep_mission_key:
            return mission_id
        if by == officer_id:
            raise OfficerRefused("the officer being revoked cannot open the cases for re-sealing")
        if by is None and not recovery:
            raise NoKeyAtHand(
                "revoking rotates the mission key and re-seals the open cases: give --by OFFICER"
                " or --recovery-key FILE (or --keep-mission-key for a benign departure)"
            )
        return mission_id

    def revoke(
        self,
        officer_id: str,
        unlock: KeysAtHand | None,
        *,
        keep_mission_key: bool = False,
        force: bool = False,
        reason: str | None = None,
    ) -> Revocation:
        """Revoke an officer; unless `keep_mission_key`, rotate the mission key and re-seal.

        One transaction: the revocation, the new mission key version and the
        re-sealed cases commit together or not at all.

        Raises:
            OfficerRefused: unknown or already revoked officer (audited).
            NoReaders: the last officer able to open the mission's cases, unless `force`.
            NoKeyAtHand, crypto.CryptoError: the open cases cannot be re-sealed (audited).
        """
        now = self._clock()
        actor = unlock.recipient if unlock else "operator"
        if not keep_mission_key and unlock is None:
            self._refuse(
                actor,
                "officer.revoke",
                self._named(officer_id),
                NoKeyAtHand("rotating the mission key needs --by OFFICER or --recovery-key FILE"),
            )
        with self._sessions.begin() as session:
            try:
                officer = officers.get_officer(session, officer_id)
                if officer.status == "revoked":
                    raise OfficerRefused(f"officer {officer_id} is already revoked")
                mission_id = MissionId(officer.mission_id)
                removed = officers.revoke(session, officer_id, now, force=force)
            except OfficerRefused as exc:
                session.rollback()
                self._refuse(actor, "officer.revoke", self._named(officer_id), exc)
            self._trail.append(
                session,
                now,
                actor,
                "officer.revoke",
                officer_id,
                seals_deleted=removed,
                mission_key="kept" if keep_mission_key else "rotated",
                **({"reason": reason} if reason else {}),
            )
            if keep_mission_key or unlock is None:
                result = Revocation(OfficerId(officer_id), mission_id, removed)
            else:
                try:
                    directory = self._directory()
                    version, members = rotate_mission_key(session, directory, mission_id, now)
                    moved = reseal_open_cases(session, directory, unlock, mission_id, now)
                except (NoKeyAtHand, CryptoError, UntrustedKey) as exc:
                    session.rollback()
                    self._refuse(
                        actor, "officer.revoke", officer_id, Refused(f"nothing changed: {exc}")
                    )
                self._trail.append(
                    session,
                    now,
                    actor,
                    "key.mission.rotate",
                    mission_id,
                    version=version,
                    members=members,
                    reason=f"officer {officer_id} revoked",
                )
                self._trail.append(
                    session, now, actor, "key.mission.reseal", mission_id, records=moved
                )
                result = Revocation(
                    OfficerId(officer_id), mission_id, removed, version, members, moved
                )
        self._trail.synced()
        return result

    # The officer's own key

    def rotate_key(
        self, officer_id: str, passphrase: bytes, new_passphrase: bytes | None
    ) -> tuple[str, int]:
        """Replace an officer's key pair; returns (new key id, mission key copies re-sealed).

        Raises:
            PassphraseRefused: the new passphrase is too weak (checked before any unlock).
            Refused: wrong passphrase, unknown or revoked officer, a copy that does not open.
        """
        if new_passphrase is not None:
            check_new_passphrase(new_passphrase)
        now = self._clock()
        named = self._named(officer_id)  # what the refusals may record of it
        actor = f"officer:{named}"
        with self._sessions.begin() as session:
            try:
                moved = officers.rotate_key(
                    session,
                    self._directory(),
                    officer_id,
                    passphrase,
                    now,
                    new_passphrase=new_passphrase,
                    kdf=self._kdf,
                )
            except BadPassphrase:
                session.rollback()
                self._refuse(actor, "officer.rotate_key", named, Refused("wrong passphrase"))
            except (OfficerRefused, NoKeyAtHand, CryptoError) as exc:
                session.rollback()
                self._refuse(
                    actor,
                    "officer.rotate_key",
                    named,
                    Refused(f"cannot rotate the key of {named}: {exc}"),
                )
            key_id = officers.get_officer(session, officer_id).key_id
            self._trail.append(
                session,
                now,
                actor,
                "officer.rotate_key",
                officer_id,
                key_id=key_id,
                seals=moved,
                passphrase_changed=new_passphrase is not None,
            )
        self._trail.synced()
        return key_id, moved

    def change_passphrase(self, officer_id: str, old: bytes, new: bytes) -> None:
        """Rewrap one officer's private key under a new passphrase.

        Raises:
            PassphraseRefused: the new one is too weak (checked before the old one is tried).
            Refused: wrong passphrase, unknown or revoked officer (audited).
        """
        check_new_passphrase(new)
        now = self._clock()
        named = self._named(officer_id)  # what the refusals may record of it
        actor = f"officer:{named}"
        with self._sessions.begin() as session:
            try:
                officers.change_passphrase(session, officer_id, old, new, self._kdf)
            except BadPassphrase:
                session.rollback()
                self._refuse(actor, "officer.passwd", named, Refused("wrong passphrase"))
            except OfficerRefused as exc:
                session.rollback()
                self._refuse(actor, "officer.passwd", named, exc)
            self._trail.append(session, now, actor, "officer.passwd", officer_id)
        self._trail.synced()

    def _named(self, typed: str) -> str:
        """What a refusal may record of an officer id as typed (`officers.named_officer`)."""
        with self._sessions() as session:
            return officers.named_officer(session, typed)

    def _refuse(self, actor: str, action: str, subject: str, exc: Exception) -> NoReturn:
        reason = str(exc)
        self._trail.refusal(self._clock(), actor, action, subject, reason)
        if isinstance(exc, Refused):
            raise exc
        raise Refused(reason) from exc
