"""Safety check-ins in the conversation: starting one, answering a prompt, stopping it.

The `safety_checkin` flow submits like a report, but instead of a case it
starts a check-in (`start`): the details go into the alert case that is
sealed now and raised only if needed (`intake.keys.checkin_seals`), the two
words are kept only as slow keyed digests (`crypto.word_hash`), and the
schedule is the plaintext the scheduler needs (`intake.core.checkin_scheduler`).

Answers (`intercept`, called by the service before the flow engine): while a
prompt waits (or after a miss), a message is compared with both words. The
check-in word confirms; the duress word gets exactly the same reply and
schedule, and silently raises the alert; anything else is asked again.
`/checkin` tells when the next check-in is, `/checkin stop` ends it once the
word is given. Every message that may carry a word wipes the chat, so the
word does not stay on the defender's phone. The conversation record (sealed
under the keyring) remembers that a check-in runs, so other conversations
never query the check-ins table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crypto import (
    WordHashParams,
    hash_word,
    new_data_key,
    new_word_salt,
    word_matches,
)
from flows import Catalog, Submit, fold
from intake.config import RoutingSettings
from intake.core.cases import route
from intake.keys.checkin_seals import preseal_case_key
from intake.keys.directory import KeyDirectory
from intake.messages import Outbound, Reply, WipeChat
from intake.references import new_reference
from intake.storage import audit
from intake.storage import checkins as storage
from intake.storage.conversation_record import Turn
from intake.storage.conversations import reference_taken
from intake.storage.models import Checkin
from intake.storage.records import RecordCipher, new_record_id
from intake.triage.checkins import URGENCY, note_on_case, raise_alert

log = logging.getLogger(__name__)

FLOW = "safety_checkin"
RECORD_KEY = "checkin"  # conversation record: id of the running check-in
STOP_KEY = "checkin_stop"  # conversation record: the next message is the word to stop
_COMMAND = re.compile(r"^[/!]checkin(?:@[A-Za-z0-9_]{1,64})?(?:\s+(stop))?$", re.IGNORECASE)
_HOURS = re.compile(r"^h(\d{1,2})$")
_REFERENCE_ATTEMPTS = 8


@dataclass(frozen=True)
class CheckinPolicy:
    """`[checkins]` settings the conversation side and the scheduler share."""

    grace: timedelta = timedelta(minutes=30)
    words: WordHashParams = field(default_factory=WordHashParams)
    # The service's own duress words (folded): they go to the flow engine even at a prompt.
    duress_words: frozenset[str] = frozenset()


def due_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _hours(value: object) -> int:
    found = _HOURS.match(str(value))
    if found is None:
        raise ValueError(f"not an hours option: {value!r}")
    return int(found[1])


class Checkins:
    """The conversation side of check-ins, inside the service's transaction.

    Args:
        cipher: the record cipher (keyring).
        catalog: texts for the defender.
        routing: routes a check-in to its mission like a case.
        notify: channel -> officers' chat for alert notifications (no content).
        clock: the current aware UTC time.
        policy: grace period and word-hash cost.
        language: the turn's language.
        audited: called with how many audit entries were appended.
    """

    def __init__(
        self,
        cipher: RecordCipher,
        catalog: Catalog,
        routing: RoutingSettings,
        notify: Mapping[str, str],
        clock: Callable[[], datetime],
        policy: CheckinPolicy,
        language: Callable[[Turn], str],
        audited: Callable[[int], None],
    ) -> None:
        self._cipher = cipher
        self._catalog = catalog
        self._routing = routing
        self._notify = dict(notify)
        self._clock = clock
        self._policy = policy
        self._language = language
        self._audited = audited

    # -- starting -------------------------------------------------------------

    def start(self, session: Session, turn: Turn, effect: Submit) -> list[Outbound]:
        """The flow was confirmed: start the check-in (one per conversation).

        Raises:
            NoKeyAtHand: there is no recovery key to seal the alert case to.
            UntrustedKey: the recovery or mission key does not verify.
        """
        now = self._clock()
        conversation = turn.conversation
        if storage.has_checkin(session, conversation.id):
            return [self._wipe(turn), self._say(turn, "checkin.already")]
        answers = dict(effect.answers)
        word, duress = str(answers.pop("checkin_word")), str(answers.pop("duress_word"))
        facts = replace(effect.routing, urgency=URGENCY)
        mission_id = route(session, self._routing, facts)
        checkin_id, case_id = new_record_id(), new_record_id()
        reference = self._unused_reference(session)
        case_key = new_data_key()
        payload = {
            "flow": effect.flow,
            "language": effect.language,
            "answers": answers,
            "routing": {"kind": facts.kind, "country": facts.country, "urgency": URGENCY},
            "attachments": {},
            "conversation": conversation.id,
            "channel": conversation.channel,
        }
        # Who can decrypt: whoever opens the alert case (mission officers, recovery key).
        payload_ct = self._cipher.seal_json(case_key, "case", case_id, "payload", payload)
        # Raises NoKeyAtHand or UntrustedKey before anything is written: the check-in
        # then waits like a submission (deferred or held), never under the keyring.
        seals = preseal_case_key(
            session, KeyDirectory(self._cipher.keyring()), reference, mission_id, case_key
        )
        dek, wrapped, version = self._cipher.new_key("checkin", checkin_id)
        link = {"case_id": case_id, "reference": reference, "language": self._language(turn)}
        salt = new_word_salt()
        keyring = self._cipher.keyring()
        params, word_digest = hash_word(keyring, word, salt, self._policy.words)
        _, duress_digest = hash_word(keyring, duress, salt, params)
        interval = _hours(answers["every"]) * 60 if answers.get("schedule") == "interval" else None
        first = timedelta(minutes=interval) if interval else timedelta(hours=_hours(answers["within"]))
        checkin = Checkin(
            id=checkin_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            mission_id=mission_id,
            state=storage.SCHEDULED,
            mode="interval" if interval else "deadline",
            interval_minutes=interval,
            due_at=now + first,
            started_at=now,
            updated_at=now,
            generation=0,
            word_salt=salt,
            word_params={
                "memory_kib": params.memory_kib,
                "iterations": params.iterations,
                "lanes": params.lanes,
                "pepper_version": params.pepper_version,
            },
            word_digest=word_digest,
            duress_digest=duress_digest,
            dek_wrapped=wrapped,
            kek_version=version,
            # Who can decrypt: the service (keyring): it raises the case and writes the prompt.
            link_ct=self._cipher.seal_json(dek, "checkin", checkin_id, "link", link),
            case_payload_ct=payload_ct,
            case_seals=seals,
        )
        session.add(checkin)
        session.flush()
        turn.record[RECORD_KEY] = checkin_id
        audit.append(session, now, "service", "checkin.started", checkin_id, mission=mission_id)
        self._audited(1)
        log.info("check-in started", extra={"mission": mission_id})
        assert checkin.due_at is not None  # noqa: S101 - set just above
        return [self._wipe(turn), self._say(turn, "checkin.started", time=due_text(checkin.due_at))]

    def _unused_reference(self, session: Session) -> str:
        for _ in range(_REFERENCE_ATTEMPTS):
            reference = new_reference()
            if not reference_taken(session, reference):
                return reference
        raise RuntimeError("could not draw an unused case reference; the space is exhausted")

    # -- answering --------------------------------------------------------------

    def intercept(self, session: Session, turn: Turn, text: str | None) -> list[Outbound] | None:
        """Replies if this message concerns the check-in, else None (the flow engine takes it).

        The caller adds the question the conversation is waiting for.
        """
        if text is None or not turn.record.get(RECORD_KEY):
            if text is not None and _COMMAND.match(text.strip()):
                return [self._say(turn, "checkin.none")]
            return None
        command = _COMMAND.match(text.strip())
        stopping = turn.record.pop(STOP_KEY, False)
        if command is None and text.strip()[:1] in ("/", "!"):
            return None  # another command (/delete, /help...): the engine's
        if fold(text) in self._policy.duress_words:
            return None  # the engine wipes the chat; the check-in ends with an alert (`end`)
        checkin = storage.checkin_of_conversation(session, turn.conversation.id)
        if checkin is None:
            turn.record.pop(RECORD_KEY, None)
            return [self._say(turn, "checkin.none")] if command else None
        if command is not None:
            if command[1]:
                turn.record[STOP_KEY] = True
                return [self._say(turn, "checkin.stop_ask")]
            return [self._status(turn, checkin)]
        if stopping:
            return self._stop(session, turn, checkin, text)
        if checkin.state not in (storage.PROMPTED, storage.MISSED):
            return None
        return self._answer(session, turn, checkin, text)

    def _match(self, checkin: Checkin, text: str) -> str | None:
        """"word", "duress" or None; one Argon2id run whatever the answer."""
        params = WordHashParams(**checkin.word_params)
        _, candidate = hash_word(self._cipher.keyring(), text, checkin.word_salt, params)
        is_word = word_matches(candidate, checkin.word_digest)
        is_duress = word_matches(candidate, checkin.duress_digest)
        return "word" if is_word else "duress" if is_duress else None

    def _answer(self, session: Session, turn: Turn, checkin: Checkin, text: str) -> list[Outbound]:
        now = self._clock()
        matched = self._match(checkin, text)
        if matched is None:
            return [self._wipe(turn), self._say(turn, "checkin.wrong_word")]
        link = self._link(checkin)
        was_missed = checkin.state == storage.MISSED
        if matched == "duress":
            raise_alert(session, self._cipher, checkin, link, "duress", self._notify, now)
            self._audited(1)
        elif note_on_case(session, self._cipher, link, "late" if was_missed else "checked_in", now):
            self._audited(1)
        # From here on a duress answer and a confirmation are indistinguishable to the chat.
        if checkin.mode == "interval" and checkin.interval_minutes:
            checkin.state = storage.SCHEDULED
            checkin.due_at = now + timedelta(minutes=checkin.interval_minutes)
            checkin.generation += 1
            checkin.updated_at = now
            return [self._wipe(turn), self._say(turn, "checkin.confirmed", time=due_text(checkin.due_at))]
        self._forget(session, turn, checkin, now)
        return [self._wipe(turn), self._say(turn, "checkin.complete")]

    def _stop(self, session: Session, turn: Turn, checkin: Checkin, text: str) -> list[Outbound]:
        now = self._clock()
        matched = self._match(checkin, text)
        if matched is None:
            return [self._wipe(turn), self._say(turn, "checkin.stop_wrong")]
        if matched == "duress":  # stopped as asked, and the mission alerted
            raise_alert(session, self._cipher, checkin, self._link(checkin), "duress", self._notify, now)
            self._audited(1)
        self._forget(session, turn, checkin, now)
        return [self._wipe(turn), self._say(turn, "checkin.stopped")]

    def end(self, session: Session, turn: Turn, duress: bool) -> None:
        """`/delete` or the service's duress word: the check-in ends (the duress word alerts)."""
        turn.record.pop(STOP_KEY, None)
        if not turn.record.get(RECORD_KEY):
            return
        checkin = storage.checkin_of_conversation(session, turn.conversation.id)
        if checkin is None:
            turn.record.pop(RECORD_KEY, None)
            return
        now = self._clock()
        if duress:
            link = self._link(checkin)
            raise_alert(session, self._cipher, checkin, link, "global_duress", self._notify, now)
            self._audited(1)
        self._forget(session, turn, checkin, now)

    def _forget(self, session: Session, turn: Turn, checkin: Checkin, now: datetime) -> None:
        audit.append(session, now, "service", "checkin.ended", checkin.id, mission=checkin.mission_id)
        self._audited(1)
        storage.delete_checkin(session, checkin)
        turn.record.pop(RECORD_KEY, None)

    # -- replies ----------------------------------------------------------------

    def _status(self, turn: Turn, checkin: Checkin) -> Reply:
        if checkin.state == storage.SCHEDULED and checkin.due_at is not None:
            return self._say(turn, "checkin.status", time=due_text(checkin.due_at))
        return self._say(turn, "checkin.status_overdue")

    def _link(self, checkin: Checkin) -> dict[str, Any]:
        dek = self._cipher.open_key("checkin", checkin.id, checkin.dek_wrapped)
        link: dict[str, Any] = self._cipher.open_json(
            dek, "checkin", checkin.id, "link", checkin.link_ct
        )
        return link

    def _say(self, turn: Turn, key: str, **params: str) -> Reply:
        return Reply(text=self._catalog.text(self._language(turn), key, **params))

    @staticmethod
    def _wipe(turn: Turn) -> WipeChat:
        """The chat may show a word: hand its message ids to the channel to delete."""
        ids = tuple(turn.record["trace"])
        turn.record["trace"] = []
        return WipeChat(ids)
