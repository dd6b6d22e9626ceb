"""What the core does for each effect a flow returns: submit, discard, wipe, duress, status.

Split from the conversation service, which owns the transaction: each handler
takes the batch's session and the conversation's turn and returns replies.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from flows import (
    Catalog,
    DiscardDraft,
    Duress,
    RoutingFacts,
    ShowStatus,
    Submit,
    Wipe,
    render_status,
)
from intake.config import RoutingSettings
from intake.core import cases
from intake.errors import UntrustedKey
from intake.messages import Outbound, Reply, WipeChat
from intake.storage import audit
from intake.storage import conversations as storage
from intake.storage.conversation_record import Turn
from intake.storage.deliveries import queue_delivery
from intake.storage.records import RecordCipher
from intake.triage import actions as triage

log = logging.getLogger(__name__)

TALLY = "hrd_intake.tally"  # session.info key: what this batch counts once committed
HELD = "held_submission"  # conversation record key: a submission waiting for a trusted key


def _routing_facts(data: Mapping[str, Any]) -> RoutingFacts:
    return RoutingFacts(
        kind=str(data["kind"]),
        country=data.get("country"),
        category=tuple(data.get("category") or ()),
        urgency=data.get("urgency"),
        subdivision=data.get("subdivision"),
    )


class EffectHandlers:
    """Fulfils flow effects inside the caller's transaction.

    Args:
        cipher: seals records under the keyring (and cases to their mission).
        catalog: texts for the defender.
        routing: routing rules and fallback.
        notify: channel -> chat where officers are told of new cases (no content).
        clock: returns the current aware UTC time.
        default_language: when a conversation names none.
        audited: called with how many audit entries were appended (the caller
            syncs the checkpoint after its commit).
    """

    def __init__(
        self,
        cipher: RecordCipher,
        catalog: Catalog,
        routing: RoutingSettings,
        notify: Mapping[str, str],
        clock: Callable[[], datetime],
        default_language: str,
        audited: Callable[[int], None],
    ) -> None:
        self._cipher = cipher
        self._catalog = catalog
        self._routing = routing
        self._notify = dict(notify)
        self._clock = clock
        self._default_language = default_language
        self._audited = audited
        self.table: dict[type, Callable[[Session, Turn, Any], list[Outbound]]] = {
            Submit: self._on_submit,
            DiscardDraft: self._on_discard,
            Wipe: self._on_wipe,
            Duress: self._on_duress,
            ShowStatus: self._on_status,
        }

    def language(self, turn: Turn) -> str:
        return str(turn.record["flow"].get("lang", self._default_language))

    def _on_submit(self, session: Session, turn: Turn, effect: Submit) -> list[Outbound]:
        now = self._clock()
        mission_id = cases.route(session, self._routing, effect.routing)
        try:
            # A savepoint: a refused seal leaves no case row, and the draft files stay drafts.
            with session.begin_nested():
                case = cases.create_case(
                    session,
                    self._cipher,
                    mission_id=mission_id,
                    facts=effect.routing,
                    report={
                        "flow": effect.flow,
                        "language": effect.language,
                        "answers": dict(effect.answers),
                    },
                    conversation_id=turn.conversation.id,
                    channel=turn.conversation.channel,
                    now=now,
                )
        except UntrustedKey as untrusted:
            return self._hold(session, turn, effect, untrusted)
        turn.record.pop(HELD, None)
        turn.record["cases"].append(case.reference)
        session.info[TALLY].cases[(mission_id, case.kind)] += 1
        if turn.record.get("device_changed"):
            triage.warn_device_change(session, self._cipher, [case.reference], now)
        log.info(
            "case submitted",
            extra={"case": case.reference, "mission": mission_id, "kind": case.kind},
        )
        audit.append(
            session,
            now,
            "service",
            "case.submitted",
            case.reference,
            mission=mission_id,
            kind=case.kind,
        )
        self._audited(1)
        for channel, chat in self._notify.items():
            # Officers learn that a case arrived, never what it says.
            notice = f"New {case.kind.replace('_', ' ')} {case.reference} for {mission_id}, urgency {case.urgency}."
            queue_delivery(
                session,
                self._cipher,
                channel=channel,
                kind="notify",
                chat=chat,
                text=notice,
                conversation_id=None,
                now=now,
            )
        text = self._catalog.text(self.language(turn), "engine.submitted", reference=case.reference)
        return [self._wipe(turn), Reply(text=text)]

    def _hold(
        self, session: Session, turn: Turn, effect: Submit, untrusted: UntrustedKey
    ) -> list[Outbound]:
        """Keep the submission as a draft: a key the database offers does not verify.

        Nothing is sealed to the key. The submission waits in the conversation
        record (under the keyring, like any draft) and is tried again on the
        defender's next message (`retry_held`); the service logs an ERROR
        naming the kind of key only, and counts it.
        """
        turn.record[HELD] = {
            "flow": effect.flow,
            "language": effect.language,
            "answers": dict(effect.answers),
            "routing": dataclasses.asdict(effect.routing),
        }
        session.info[TALLY].untrusted[untrusted.kind] += 1
        log.error(
            "submission held: a public key does not verify under the keyring (keys verify)",
            extra={"key_kind": untrusted.kind},
        )
        return [Reply(text=self._catalog.text(self.language(turn), "engine.submission_held"))]

    def retry_held(self, session: Session, turn: Turn) -> list[Outbound]:
        """Send a held submission again (on the defender's next message); [] if none waits."""
        held = turn.record.get(HELD)
        if not held:
            return []
        effect = Submit(
            flow=held["flow"],
            answers=held["answers"],
            routing=_routing_facts(held["routing"]),
            language=held["language"],
        )
        replies = self._on_submit(session, turn, effect)
        # Still held: the defender was told once; this message goes on as usual.
        return [] if turn.record.get(HELD) else replies

    def _on_discard(self, session: Session, turn: Turn, effect: DiscardDraft) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id, effect.attachments)
        return []

    def _on_wipe(self, session: Session, turn: Turn, effect: Wipe) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id)
        return [self._wipe(turn)]

    def _wipe(self, turn: Turn) -> WipeChat:
        """Hand the remembered message ids to the channel and forget them."""
        ids = tuple(turn.record["trace"])
        turn.record["trace"] = []
        return WipeChat(ids)

    def _on_duress(self, session: Session, turn: Turn, effect: Duress) -> list[Outbound]:
        storage.delete_draft_attachments(session, turn.conversation.id)
        storage.flag_cases(session, turn.record["cases"], self._clock())
        log.warning("duress word received", extra={"conversation": turn.conversation.id})
        return [self._wipe(turn)]

    def _on_status(self, session: Session, turn: Turn, effect: ShowStatus) -> list[Outbound]:
        cases = storage.cases_by_reference(session, turn.record["cases"])
        listing = [(case.reference, case.status, case.updated_at.date()) for case in cases]
        return [Reply(text=render_status(self._catalog, self.language(turn), listing))]
