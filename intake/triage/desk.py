"""The case desk: what an officer (or security staff) does with cases, checked and audited.

Every entry point (the CLI, the web console) comes here: the desk decides
who may act, runs the step in one transaction with its audit entry, and
records refusals (unknown or revoked officer, wrong passphrase, another
mission's case, an illegal move) in the audit log before raising them. The
entry points only ask and print.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from crypto import BadPassphrase, CryptoError
from intake.errors import (
    IllegalTransition,
    NoKeyAtHand,
    NoReaders,
    OfficerRefused,
    Refused,
)
from intake.keys.holders import KeysAtHand
from intake.keys.readers import mission_readers
from intake.keys.recovery import recovery_keys_at_hand
from intake.references import CaseRef, MissionId, OfficerId
from intake.storage.audit import AuditTrail
from intake.storage.models import Case, Officer
from intake.storage.records import RecordCipher
from intake.triage import actions
from intake.triage.actions import OpenedCase, actor_name
from intake.triage.missions import mission_exists
from intake.triage.officers import active_officer, unlock
from intake.triage.queue import CaseSummary, list_cases

__all__ = ["Acting", "CaseDesk"]

# One triage step: (session, case, acting, now) -> what to tell the officer.
Step = Callable[[Session, Case, "Acting", datetime], str]


class Acting:
    """Who acts: an officer with their unlocked keys, or security staff with the recovery key."""

    def __init__(self, officer: Officer | None, keys: KeysAtHand | None) -> None:
        self.officer = officer
        self.keys = keys

    @property
    def actor(self) -> str:
        return actor_name(self.officer, self.keys)

    def require_keys(self) -> KeysAtHand:
        if self.keys is None:
            raise NoKeyAtHand("this step needs the officer's unlocked key")
        return self.keys


class CaseDesk:
    """Officers' case work, one transaction and one audit entry per step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        trail: AuditTrail,
        clock: Callable[[], datetime],
        render_reply: Callable[[str, str, str], str],
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._trail = trail
        self._clock = clock
        self._render_reply = render_reply

    # Who acts

    def officer(self, officer_id: OfficerId, action: str, subject: str) -> Officer:
        """The active officer with this id (refusal audited)."""
        with self._sessions() as session:
            try:
                return active_officer(session, officer_id)
            except OfficerRefused as exc:
                self._refuse(f"officer:{officer_id}", action, subject, exc)

    def unlock(self, officer: Officer, passphrase: bytes, subject: str) -> Acting:
        """The officer's keys, opened with their passphrase (a wrong one is audited)."""
        with self._sessions() as session:
            try:
                return Acting(officer, unlock(session, officer.id, passphrase))
            except BadPassphrase:
                self._refuse(
                    f"officer:{officer.id}", "unlock", subject, Refused("wrong passphrase")
                )
            except OfficerRefused as exc:
                self._refuse(f"officer:{officer.id}", "unlock", subject, exc)

    def recovery(self, key_file: Path) -> Acting:
        """Security staff acting with the recovery key file."""
        try:
            return Acting(None, recovery_keys_at_hand(key_file))
        except CryptoError as exc:
            raise Refused(f"cannot read the recovery key file: {exc}") from exc

    # The queue

    def list(
        self,
        officer: Officer | None,
        missions: Sequence[MissionId],
        statuses: Sequence[str],
        *,
        limit: int,
        offset: int,
    ) -> list[CaseSummary]:
        """Case metadata, most urgent then oldest; an officer sees their own mission only."""
        if officer is not None:
            foreign = [m for m in missions if m != officer.mission_id]
            if foreign:
                self._refuse(
                    f"officer:{officer.id}",
                    "queue.list",
                    foreign[0],
                    OfficerRefused(f"not in the queue of {foreign[0]}"),
                )
            missions = [MissionId(officer.mission_id)]
        with self._sessions() as session:
            return list_cases(session, missions, statuses, limit=limit, offset=offset)

    def open(self, reference: CaseRef, acting: Acting) -> OpenedCase:
        """Decrypt one case with the keys at hand (audited, like every opening)."""
        with self._sessions.begin() as session:
            case = self._case(session, reference, acting, "case.open")
            try:
                opened = actions.open_case(session, self._cipher, case, acting.keys)
            except (NoKeyAtHand, CryptoError) as exc:
                session.rollback()
                self._refuse(
                    acting.actor,
                    "case.open",
                    reference,
                    NoKeyAtHand(f"case {reference} does not open: {exc}"),
                )
            self._trail.append(session, self._clock(), acting.actor, "case.open", reference)
        self._trail.synced()
        return opened

    # Triage steps (each needs an unlocked officer)

    def claim(self, reference: CaseRef, acting: Acting) -> str:
        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            officer = _officer_of(who)
            actions.claim(session, case, officer, now)
            return f"{case.reference}: claimed by {officer.id}"

        return self._act(reference, acting, "case.claim", step)

    def change_status(self, reference: CaseRef, acting: Acting, trigger: str) -> str:
        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            status = actions.change_status(session, case, trigger, who.actor, now)
            return f"{case.reference}: {status}"

        return self._act(reference, acting, f"case.{trigger}", step)

    def note(self, reference: CaseRef, acting: Acting, text: str) -> str:
        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            actions.note(session, self._cipher, case, who.actor, text, now)
            return f"{case.reference}: note added"

        return self._act(reference, acting, "case.note", step)

    def reply(self, reference: CaseRef, acting: Acting, text: str) -> str:
        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            actions.reply(
                session,
                self._cipher,
                case,
                who.require_keys(),
                who.actor,
                text,
                self._render_reply,
                now,
            )
            return f"{case.reference}: reply queued for delivery"

        return self._act(reference, acting, "case.reply", step)

    def transfer(
        self, reference: CaseRef, acting: Acting, to_mission: MissionId, force: bool = False
    ) -> str:
        """Hand a case to `to_mission`.

        Raises:
            NoReaders: `to_mission` has no active officer able to open its cases (the
                case would wait unseen), unless `force`.
        """

        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            unseen = mission_exists(session, to_mission) and not mission_readers(
                session, to_mission
            )
            if unseen and not force:
                raise NoReaders(
                    to_mission,
                    f"no active officer of {to_mission} can open cases: {case.reference} would "
                    "wait there unseen",
                    "enrol an officer there first (hrd-intake officers add --mission "
                    f"{to_mission} ...), or add --force to transfer anyway",
                )
            actions.transfer(
                session, self._cipher, case, who.require_keys(), to_mission, who.actor, now
            )
            done = f"{case.reference}: transferred to {to_mission}"
            if unseen:
                return f"{done} (warning: no officer there can open it yet; see keys status)"
            return done

        return self._act(reference, acting, "case.transfer", step)

    # Internals

    def _act(self, reference: CaseRef, acting: Acting, action: str, step: Step) -> str:
        with self._sessions.begin() as session:
            case = self._case(session, reference, acting, action)
            try:
                message = step(session, case, acting, self._clock())
            except (IllegalTransition, OfficerRefused, NoKeyAtHand, NoReaders, LookupError) as exc:
                session.rollback()
                self._refuse(acting.actor, action, reference, exc)
        self._trail.synced()
        return message

    def _case(self, session: Session, reference: CaseRef, acting: Acting, action: str) -> Case:
        try:
            return actions.find_case(session, reference, acting.officer)
        except OfficerRefused as exc:
            session.rollback()
            self._refuse(acting.actor, action, reference, exc)

    def _refuse(self, actor: str, action: str, subject: str, exc: Exception) -> NoReturn:
        reason = str(exc)
        self._trail.refusal(self._clock(), actor, action, subject, reason)
        if isinstance(exc, Refused):
            raise exc
        raise Refused(reason) from exc


def _officer_of(acting: Acting) -> Officer:
    if acting.officer is None:
        raise OfficerRefused("only an officer of the mission can claim a case")
    return acting.officer
