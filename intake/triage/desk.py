"""The case desk: what an officer (or security staff) does with cases, checked and audited.

Every entry point (the CLI, the web console) comes here: the desk decides
who may act, runs the step in one transaction with its audit entry, and
records refusals (unknown or revoked officer, wrong passphrase, another
mission's case, an illegal move) in the audit log before raising them. The
entry points only ask and print.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy.orm import Session, sessionmaker

from crypto import BadPassphrase, CryptoError
from intake.errors import (
    CaseNotFound,
    DuressRefused,
    IllegalTransition,
    NoKeyAtHand,
    NoReaders,
    OfficerRefused,
    ReasonRequired,
    Refused,
)
from intake.keys.readers import mission_readers
from intake.keys.recovery import recovery_keys_at_hand
from intake.references import CaseRef, MissionId, OfficerId
from intake.storage.audit import AuditTrail
from intake.storage.conversations import flag_cases
from intake.storage.models import Case, Officer
from intake.storage.queue_pages import QueueFilter, case_audit_entries, queue_count, stat_rows
from intake.storage.records import RecordCipher
from intake.triage import actions
from intake.triage.acting import Acting
from intake.triage.actions import REASON_REQUIRED, AttachmentContent, OpenedCase
from intake.triage.case_file import CaseFile, CaseRenderer
from intake.triage.checkins import CheckinListing, checkins_for
from intake.triage.missions import list_missions, mission_exists
from intake.triage.officers import active_officer, list_officers, named_officer, unlock
from intake.triage.queue import CaseSummary, list_cases
from intake.triage.statistics import MissionStatistics, count_statistics

__all__ = ["Acting", "CaseDesk"]

# One triage step: (session, case, acting, now) -> what to tell the officer.
Step = Callable[[Session, Case, "Acting", datetime], str]


class CaseDesk:
    """Officers' case work, one transaction and one audit entry per step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        trail: AuditTrail,
        clock: Callable[[], datetime],
        render_reply: Callable[[str, str, str], str],
        renderer: Callable[[], CaseRenderer] | None = None,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._trail = trail
        self._clock = clock
        self._render_reply = render_reply
        self._make_renderer = renderer
        self._renderer: CaseRenderer | None = None

    @property
    def renderer(self) -> CaseRenderer:
        """The case renderer, built on first use (it loads catalogs and place names)."""
        if self._renderer is None:
            if self._make_renderer is None:
                raise RuntimeError("this desk was built without a case renderer")
            self._renderer = self._make_renderer()
        return self._renderer

    def now(self) -> datetime:
        return self._clock()

    # Who acts

    def officer(self, typed_id: str, action: str, subject: str) -> Officer:
        """The active officer whose id was typed (refusal audited; an id kept only if real)."""
        with self._sessions() as session:
            try:
                return active_officer(session, typed_id)
            except OfficerRefused as exc:
                self._refuse(f"officer:{named_officer(session, typed_id)}", action, subject, exc)

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
        wanted: QueueFilter | None = None,
    ) -> list[CaseSummary]:
        """Case metadata, most urgent then oldest; an officer sees their own mission only.

        Closed cases only when `statuses` names "closed" or `wanted.include_closed`.
        """
        missions = self._own_missions(officer, missions)
        with self._sessions() as session:
            return list_cases(session, missions, statuses, limit=limit, offset=offset, wanted=wanted)

    def count(self, officer: Officer, wanted: QueueFilter) -> int:
        """How many cases of the officer's mission match (for paging)."""
        with self._sessions() as session:
            return queue_count(session, replace(wanted, missions=[officer.mission_id]))

    def colleagues(self, officer: Officer) -> Sequence[Officer]:
        """The active officers of the officer's mission (to assign a case to)."""
        with self._sessions() as session:
            return [o for o in list_officers(session, officer.mission_id) if o.status == "active"]

    def missions(self) -> Sequence[tuple[str, str]]:
        """(id, name) of every mission of the directory (to transfer a case to)."""
        with self._sessions() as session:
            return [(m.id, m.name) for m in list_missions(session)]

    def statistics(self, officer: Officer) -> MissionStatistics:
        """Counts of the officer's mission's cases, small counts hidden (no identities)."""
        with self._sessions() as session:
            rows = stat_rows(session, officer.mission_id)
        return count_statistics(officer.mission_id, rows)

    def _own_missions(
        self, officer: Officer | None, missions: Sequence[MissionId]
    ) -> Sequence[MissionId]:
        if officer is None:
            return missions
        foreign = [m for m in missions if m != officer.mission_id]
        if foreign:
            self._refuse(
                f"officer:{officer.id}",
                "queue.list",
                foreign[0],
                OfficerRefused(f"not in the queue of {foreign[0]}"),
            )
        return [MissionId(officer.mission_id)]

    def checkins(
        self, officer: Officer | None, missions: Sequence[MissionId]
    ) -> builtins.list[CheckinListing]:
        """Running safety check-ins (next due time, state; no content); an officer's mission only."""
        with self._sessions() as session:
            try:
                return checkins_for(session, officer, missions)
            except OfficerRefused as exc:
                actor = f"officer:{officer.id}" if officer else "operator"
                self._refuse(actor, "queue.checkins", missions[0] if missions else "", exc)

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

    def case_file(
        self, reference: CaseRef, acting: Acting, language: str
    ) -> tuple[CaseFile, OpenedCase]:
        """Open a case (audited) and render it in the officer's `language`."""
        opened = self.open(reference, acting)
        with self._sessions() as session:
            entries = case_audit_entries(session, opened.case.reference)
        return self.renderer.render(opened, entries, language), opened

    def attachment(
        self, reference: CaseRef, acting: Acting, attachment_id: str
    ) -> AttachmentContent:
        """One file of a case, decrypted for download (audited as its own read)."""
        with self._sessions.begin() as session:
            case = self._case(session, reference, acting, "case.attachment")
            try:
                opened = actions.open_case(session, self._cipher, case, acting.keys)
            except (NoKeyAtHand, CryptoError) as exc:
                session.rollback()
                self._refuse(acting.actor, "case.attachment", reference, NoKeyAtHand(str(exc)))
            found = [a for a in opened.attachments if a.id == attachment_id]
            if not found:
                session.rollback()
                self._refuse(
                    acting.actor, "case.attachment", reference, CaseNotFound(reference)
                )
            self._trail.append(
                session,
                self._clock(),
                acting.actor,
                "case.attachment",
                reference,
                attachment=attachment_id,
            )
        self._trail.synced()
        return found[0]

    # Triage steps (each needs an unlocked officer)

    def claim(self, reference: CaseRef, acting: Acting) -> str:
        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            officer = _officer_of(who)
            actions.claim(session, case, officer, now)
            return f"{case.reference}: claimed by {officer.id}"

        return self._act(reference, acting, "case.claim", step)

    def assign(self, reference: CaseRef, acting: Acting, colleague_id: OfficerId) -> str:
        """Give the case to a colleague of the mission (or oneself)."""

        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            _officer_of(who)
            colleague = active_officer(session, colleague_id)
            actions.assign(session, case, colleague, who.actor, now)
            return f"{case.reference}: assigned to {colleague.id}"

        return self._act(reference, acting, "case.assign", step)

    def unclaim(self, reference: CaseRef, acting: Acting) -> str:
        """Release the case back to the mission's queue."""

        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            _officer_of(who)
            actions.unclaim(session, case, who.actor, now)
            return f"{case.reference}: unclaimed"

        return self._act(reference, acting, "case.unclaim", step)

    def change_status(
        self, reference: CaseRef, acting: Acting, trigger: str, reason: str | None = None
    ) -> str:
        """Move the case; closing needs a reason, which is sealed like a note."""

        def step(session: Session, case: Case, who: Acting, now: datetime) -> str:
            if trigger in REASON_REQUIRED and not (reason or "").strip():
                raise ReasonRequired(trigger)
            status = actions.change_status(
                session, case, trigger, who.actor, now, cipher=self._cipher, reason=reason
            )
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
        self,
        reference: CaseRef,
        acting: Acting,
        to_mission: MissionId,
        reason: str | None = None,
        force: bool = False,
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
                session,
                self._cipher,
                case,
                who.require_keys(),
                to_mission,
                who.actor,
                now,
                reason=reason,
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
            except DuressRefused as exc:
                session.rollback()
                self._flag(exc.reference)
                self._refuse(acting.actor, action, reference, exc)
            except (
                IllegalTransition,
                OfficerRefused,
                NoKeyAtHand,
                NoReaders,
                ReasonRequired,
                LookupError,
            ) as exc:
                session.rollback()
                self._refuse(acting.actor, action, reference, exc)
        self._trail.synced()
        return message

    def _flag(self, reference: str) -> None:
        """Flag a case for its officers in a transaction of its own (the action rolled back)."""
        with self._sessions.begin() as session:
            flag_cases(session, [reference], self._clock())

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
