"""What the core does for each effect a flow returns: submit, discard, wipe, duress, status.

Split from the conversation service, which owns the transaction: each handler
takes the batch's session and the conversation's turn and returns replies.

No handler ties a conversation to a case anywhere the server can read it: a
submission puts the return address inside the sealed case, /status takes the
reference the defender kept, and logs name a case or a conversation, never
both.
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
from intake.core.checkins import FLOW as CHECKIN_FLOW
from intake.core.checkins import CheckinPolicy, Checkins
from intake.core.drafts import Drafts
from intake.core.submission import create_case
from intake.errors import UntrustedKey
from intake.messages import Outbound, Reply, WipeChat
from intake.references import parse_reference
from intake.storage import audit
from intake.storage import conversations as storage
from intake.storage.conversation_record import Turn
from intake.storage.deliveries import queue_delivery
from intake.storage.records import RecordCipher
from intake.triage import defender_side

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
        drafts: the conversation records (fresh keys, destruction).
        audited: called with how many audit entries were appended (the caller
            syncs the checkpoint after its commit).
        checkin_policy: grace period and word-hash cost of safety check-ins.
    """

    def __init__(
        self,
        cipher: RecordCipher,
        catalog: Catalog,
        routing: RoutingSettings,
        notify: Mapping[str, str],
        clock: Callable[[], datetime],
        drafts: Drafts,
        audited: Callable[[int], None],
        checkin_policy: CheckinPolicy | None = None,
    ) -> None:
        self._cipher = cipher
        self._catalog = catalog
        self._routing = routing
        self._notify = dict(notify)
        self._clock = clock
        self._drafts = drafts
        self._audited = audited
        self.checkins = Checkins(
            cipher,
            catalog,
            routing,
            self._notify,
            clock,
            checkin_policy or CheckinPolicy(),
            self.language,
            audited,
        )
        self.table: dict[type, Callable[[Session, Turn, Any], list[Outbound]]] = {
            Submit: self._on_submit,
            DiscardDraft: self._on_discard,
            Wipe: self._on_wipe,
            Duress: self._on_duress,
            ShowStatus: self._on_status,
        }

    def language(self, turn: Turn) -> str:
        return self._drafts.language(turn)

    @staticmethod
    def deferred_message(effect: object) -> str:
        """What the defender is told when `effect` raised NoKeyAtHand (nothing was written)."""
        if isinstance(effect, Submit) and effect.flow == CHECKIN_FLOW:
            return "checkin.deferred"
        return "submit.deferred"

    def _on_submit(self, session: Session, turn: Turn, effect: Submit) -> list[Outbound]:
        """Raises NoKeyAtHand (nothing written) when there is no recovery key to seal to."""
        if effect.flow == CHECKIN_FLOW:  # starts a check-in; a case only if it is missed
            try:
                replies = self.checkins.start(session, turn, effect)
            except UntrustedKey as untrusted:
                return self._hold(session, turn, effect, untrusted)
            turn.record.pop(HELD, None)
            return replies
        now = self._clock()
        mission_id = cases.route(session, self._routing, effect.routing)
        conversation = turn.conversation
        chat = self._cipher.open(
            turn.dek, "conversation", conversation.id, "chat", conversation.chat_ct
        ).decode("utf-8")
        try:
            # A savepoint: a refused seal leaves no case row, and the draft files stay drafts.
            with session.begin_nested():
                case = create_case(
                    session,
                    self._cipher,
                    mission_id=mission_id,
                    facts=effect.routing,
                    report={
                        "flow": effect.flow,
                        "language": effect.language,
                        "answers": dict(effect.answers),
                    },
                    conversation_id=conversation.id,
                    # Where an officer's reply goes; sealed inside the case, for its officers only.
                    return_address={
                        "channel": conversation.channel,
                        "chat": chat,
                        "sender": turn.sender or chat,
                    },
                    now=now,
                )
        except UntrustedKey as untrusted:
            return self._hold(session, turn, effect, untrusted)
        turn.record.pop(HELD, None)
        self._drafts.fresh_key(turn)
        session.info[TALLY].cases[(mission_id, case.kind)] += 1
        if turn.record.get("device_changed"):
            kind = str(turn.record.get("device_change_kind", "new_device"))
            defender_side.warn_device_change(session, self._cipher, [case.reference], now, kind)
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
        for channel, chat_id in self._notify.items():
            # Officers learn that a case arrived, never what it says.
            notice = f"New {case.kind.replace('_', ' ')} {case.reference} for {mission_id}, urgency {case.urgency}."
            queue_delivery(
                session,
                self._cipher,
                channel=channel,
                kind="notify",
                chat=chat_id,
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
        held = "checkin.held" if effect.flow == CHECKIN_FLOW else "engine.submission_held"
        return [Reply(text=self._catalog.text(self.language(turn), held))]

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
        """/delete: the chat is wiped and the conversation record destroyed."""
        self.checkins.end(session, turn, duress=False)
        wipe = self._wipe(turn)
        self._drafts.destroy(session, turn)
        return [wipe]

    def _wipe(self, turn: Turn) -> WipeChat:
        """Hand the remembered message ids to the channel and forget them."""
        ids = tuple(turn.record["trace"])
        turn.record["trace"] = []
        return WipeChat(ids)

    def _on_duress(self, session: Session, turn: Turn, effect: Duress) -> list[Outbound]:
        """The duress word: wipe the chat, flag what the service can still tie to it, forget.

        The conversation keeps no list of cases, so the case flagged now is the
        one whose officer's reply it awaits, if any. The sender is marked (by
        pseudonym only): an officer's later reply to this chat flags its case
        and is refused (`intake.triage.actions.reply`), and `/status` here
        knows nothing from now on. A running safety check-in ends and raises
        its alert. Then the record is destroyed.
        """
        now = self._clock()
        reference = turn.record.get("reply_to")
        if reference:
            storage.flag_cases(session, [str(reference)], now)
            # On the case's timeline; the entry says only that it happened.
            audit.append(session, now, "service", "case.duress", str(reference))
            self._audited(1)
        conversation = turn.conversation
        storage.mark_duress(session, conversation.channel, conversation.sender_pseudonym, now)
        self.checkins.end(session, turn, duress=True)
        log.warning("duress word received", extra={"flagged": 1 if reference else 0})
        wipe = self._wipe(turn)
        self._drafts.destroy(session, turn)
        return [wipe]

    def _on_status(self, session: Session, turn: Turn, effect: ShowStatus) -> list[Outbound]:
        language = self.language(turn)
        if effect.reference is None:
            return [Reply(text=self._catalog.text(language, "status.ask"))]
        reference = parse_reference(effect.reference)
        case = storage.case_by_reference(session, reference) if reference else None
        conversation = turn.conversation
        if case is None or storage.duress_marked(
            session, conversation.channel, [conversation.sender_pseudonym]
        ):
            # After the duress word this chat knows nothing, whoever holds the phone.
            return [Reply(text=self._catalog.text(language, "status.unknown"))]
        listing = [(case.reference, case.status, case.updated_at.date())]
        return [Reply(text=render_status(self._catalog, language, listing))]
