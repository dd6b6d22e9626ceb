"""The conversation service: the one place that joins flows, storage and crypto.

`handle_batch` takes neutral inbound messages and returns, for each, the
replies to render. A batch is one transaction: the channel acknowledges the
platform (Telegram offset, Matrix sync token) only after it returns, so a
crash at any point leaves the messages unacknowledged and they come again;
the processed-message table makes the second arrival a no-op.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from flows import Answer, Catalog, Engine, Outcome, Prompt, Rejection, check_text
from intake.config import RoutingSettings
from intake.core import cases, prompt_tags
from intake.core.checkins import CheckinPolicy
from intake.core.drafts import Drafts
from intake.core.effects import TALLY, EffectHandlers
from intake.core.files import DEFAULT_MAX_BYTES, clean_file
from intake.core.outbox import Outbox
from intake.core.submission import SUBMITTED
from intake.errors import FileRejected, NoKeyAtHand
from intake.keys.draft_epochs import DraftEpochs
from intake.messages import Attachment, Choice, Inbound, Outbound, Reply
from intake.runtime.metrics import BatchTally, ServiceMetrics
from intake.storage import audit
from intake.storage import conversations as storage
from intake.storage.conversation_record import Turn
from intake.storage.purge import checkpoint_wal
from intake.storage.records import RecordCipher
from intake.triage import defender_side

log = logging.getLogger(__name__)

# Runs inside a batch's transaction before it commits: (session, first index, replies).
BatchHook = Callable[[Session, int, list[list[Outbound]]], None]

# A defender's answer to an officer, like the longest answer of a flow.
MAX_ANSWER_LENGTH = 4000


class _BrokenMessage(Exception):
    """Message `index` of a batch raised: the batch is replayed without it."""

    def __init__(self, index: int) -> None:
        super().__init__(f"message {index} of the batch failed")
        self.index = index


def prompt_to_reply(prompt: Prompt) -> Reply:
    return Reply(
        text=prompt.text,
        choices=tuple(Choice(c.value, c.label) for c in prompt.choices),
        multi=prompt.multi,
    )


class ConversationService(Outbox):
    """Answers defenders' messages.

    Args:
        sessions: opens database sessions.
        engine: the flow engine (shared, stateless between calls).
        catalog: the message catalog the engine speaks from.
        cipher: seals and opens fields under the server keyring.
        routing: routing rules and fallback from the configuration.
        clock: returns the current aware UTC time.
        default_language: for a new conversation without a platform hint.
        draft_idle: a draft untouched this long is destroyed at next contact.
        first_contact_notices: channel -> catalog key of a notice shown once,
            when a defender first writes on that channel (Telegram: not E2EE).
        max_attachment_bytes: larger files are refused.
        notify: channel -> chat where officers are told of new cases (no content).
        audit_checkpoint: the audit head file to update after commits that audit.
        metrics: the counters `/metrics` shows (messages, cases, errors).
        checkin_policy: safety check-ins' grace period and word-hash cost.
        draft_epochs: starts draft-epoch keys as time passes (None: the keyring
            is in memory and already has its epoch).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engine: Engine,
        catalog: Catalog,
        cipher: RecordCipher,
        routing: RoutingSettings,
        clock: Callable[[], datetime],
        default_language: str = "en",
        draft_idle: timedelta = timedelta(hours=72),
        first_contact_notices: Mapping[str, str] | None = None,
        max_attachment_bytes: int = DEFAULT_MAX_BYTES,
        notify: Mapping[str, str] | None = None,
        audit_checkpoint: Path | None = None,
        metrics: ServiceMetrics | None = None,
        checkin_policy: CheckinPolicy | None = None,
        draft_epochs: DraftEpochs | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._catalog = catalog
        self._cipher = cipher
        self._routing = routing
        self._clock = clock
        self._default_language = default_language
        self._draft_epochs = draft_epochs
        self._draft_idle = draft_idle
        self._drafts = Drafts(
            cipher, engine, catalog, default_language, draft_idle, first_contact_notices or {}
        )
        self._max_attachment_bytes = max_attachment_bytes
        self._notify = dict(notify or {})
        self._audited = 0  # audit entries this instance appended: checkpoint after commit
        self._audit_checkpoint = audit_checkpoint
        self.metrics = metrics or ServiceMetrics()
        self._effects = EffectHandlers(
            cipher,
            catalog,
            routing,
            self._notify,
            clock,
            self._drafts,
            audited=self._count_audited,
            checkin_policy=checkin_policy,
        )

    def _count_audited(self, entries: int) -> None:
        self._audited += entries

    def handle(self, message: Inbound) -> list[Outbound]:
        return self.handle_batch([message])[0]

    def handle_batch(
        self, messages: Sequence[Inbound], within: BatchHook | None = None
    ) -> list[list[Outbound]]:
        """Process messages in order, in one transaction; durable when this returns.

        `within(session, start, replies)`, if given, runs inside each transaction
        before it commits, with the replies to `messages[start:start + len(replies)]`
        (the inbox keeps them there, so they survive a crash after the commit).

        A message seen before gets the current question again (its first
        answers may have died with the process that gave them).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed. Nothing of the
                batch is recorded, so the channel must not acknowledge it and
                will get it again.

        A message that breaks its own processing (a bug, bad configuration)
        does not block the others: the batch is rolled back and replayed
        without it, and that message is recorded with an apology asking the
        defender to send it again.
        """
        audited_before = self._audited
        replies: list[list[Outbound]] = []
        start = 0
        while start < len(messages):
            try:
                replies.extend(self._run_batch(messages[start:], within, start))
                break
            except _BrokenMessage as broken:
                self.metrics.error("message")
                replies.extend(
                    self._run_batch(messages[start : start + broken.index], within, start)
                )
                replies.append(
                    self._reject(messages[start + broken.index], within, start + broken.index)
                )
                start += broken.index + 1
            except SQLAlchemyError:
                self.metrics.error("database")
                raise
        if self._audited != audited_before:
            with self._sessions() as session:
                audit.sync_checkpoint(session, self._audit_checkpoint)
        return replies

    def _run_batch(
        self, messages: Sequence[Inbound], within: BatchHook | None = None, start: int = 0
    ) -> list[list[Outbound]]:
        tally = BatchTally()
        if self._draft_epochs is not None:
            self._draft_epochs.ensure_current(self._clock())
        submitted = False
        with self._sessions.begin() as session, session.no_autoflush:
            # No autoflush: updates to conversations wait for the commit and go
            # out together. Rows that later queries of the batch must see are
            # flushed where they are created (conversations, files, cases).
            session.info[TALLY] = tally
            replies = []
            for index, message in enumerate(messages):
                try:
                    replies.append(self._process(session, message))
                except SQLAlchemyError:
                    raise
                except Exception as exc:  # isolate one broken message, see handle_batch
                    log.error(
                        "message could not be processed: %s",
                        type(exc).__name__,
                        exc_info=True,
                        extra={"channel": message.channel},
                    )
                    raise _BrokenMessage(index) from exc
            if within is not None and replies:
                within(session, start, replies)
            submitted = bool(session.info.pop(SUBMITTED, False))
            bind = session.get_bind()
        self.metrics.committed(tally)
        if submitted and not checkpoint_wal(bind.engine):
            # Best effort: the next submission or purge truncates it.
            log.warning("a reader kept the SQLite write-ahead log busy after a submission")
        return replies

    def _reject(
        self, message: Inbound, within: BatchHook | None = None, index: int = 0
    ) -> list[Outbound]:
        """Record a message that cannot be processed, and apologise."""
        replies: list[Outbound] = [Reply(text=self.notice("failed", message.language))]
        with self._sessions.begin() as session:
            digest = self._cipher.pseudonym(f"message:{message.channel}", message.message_id)[1]
            storage.claim_message(session, message.channel, digest, self._clock())
            if within is not None:
                within(session, index, [replies])
        self.metrics.committed(BatchTally(messages=Counter({message.channel: 1})))
        return replies

    # -- one message -----------------------------------------------------

    def _process(self, session: Session, message: Inbound) -> list[Outbound]:
        now = self._clock()
        digests = [
            digest
            for _, digest in self._cipher.pseudonym_candidates(
                f"message:{message.channel}", message.message_id
            )
        ]
        seen_before = len(digests) > 1 and storage.message_seen(
            session, message.channel, digests[1:]
        )
        if seen_before or not storage.claim_message(session, message.channel, digests[0], now):
            # Seen before: the platform re-delivers only what was not
            # acknowledged, i.e. the process died after recording it but
            # perhaps before replying. Ask the current question again.
            log.info("duplicate message ignored", extra={"channel": message.channel})
            session.info[TALLY].duplicates[message.channel] += 1
            return self._repeat_prompt(session, message)

        turn = self._drafts.load(session, message, now)
        if message.trace_id is not None:
            turn.record["trace"].append(message.trace_id)
        replies = list(turn.notices)
        # A submission held for an untrusted key goes first, if the keys verify now.
        replies.extend(self._effects.retry_held(session, turn))
        renew = True  # a new question is asked, unless nothing moved
        if prompt_tags.is_stale(turn.record, message):
            # A button of a question that has passed: nothing changes.
            replies.extend(self._tell(turn, "engine.stale_choice"))
            renew = False
        elif message.unsupported is not None:
            replies.extend(self._tell(turn, f"notice.{message.unsupported}"))
        elif message.attachment is not None:
            replies.extend(self._take_attachment(session, turn, message.attachment, now))
        elif (checkin := self._effects.checkins.intercept(session, turn, message.text)) is not None:
            replies.extend(checkin)  # a check-in answer or command (intake.core.checkins)
            replies.append(prompt_to_reply(self._engine.current_prompt(turn.record["flow"])))
        elif self._answers_officer(turn, message):
            replies.extend(self._pass_to_officer(session, turn, message.text or "", now))
        else:
            answer = Answer(text=message.text, choice=message.choice)
            replies.extend(
                self._apply(session, turn, self._engine.handle(turn.record["flow"], answer))
            )
        replies = prompt_tags.bind(turn.record, replies, renew)
        self._drafts.save(session, turn, now)
        session.info[TALLY].messages[message.channel] += 1
        # No conversation id here: a log line beside "case submitted" would link them.
        log.info("message processed", extra={"channel": message.channel})
        return replies

    def _repeat_prompt(self, session: Session, message: Inbound) -> list[Outbound]:
        turn = self._drafts.open(session, message.channel, message.sender)
        if turn is None:
            return []
        prompt = prompt_to_reply(self._engine.current_prompt(turn.record["flow"]))
        return prompt_tags.bind(turn.record, [prompt], renew=False)

    @staticmethod
    def _answers_officer(turn: Turn, message: Inbound) -> bool:
        """Free text outside a flow, after an officer wrote: it is the defender's answer."""
        text = (message.text or "").strip()
        return bool(
            turn.record.get("reply_to")
            and text
            and text[0] not in "/!"
            and turn.record["flow"].get("flow") is None
        )

    def _pass_to_officer(
        self, session: Session, turn: Turn, text: str, now: datetime
    ) -> list[Outbound]:
        reference = str(turn.record["reply_to"])
        checked = check_text(text, MAX_ANSWER_LENGTH)
        if isinstance(checked, Rejection):
            params = {key: str(value) for key, value in checked.params.items()}
            return self._tell(turn, checked.key, **params)
        # Answered (or closed): the conversation forgets which case it was.
        turn.record["reply_to"] = None
        if not defender_side.defender_answer(session, self._cipher, reference, checked, now):
            return self._tell(turn, "reply.case_closed", reference=reference)
        self._audited += 1
        return self._tell(turn, "reply.sent_to_officer", reference=reference)

    def _tell(self, turn: Turn, key: str, **params: str) -> list[Outbound]:
        """A notice, then the question the conversation is waiting for."""
        text = self._catalog.text(self._drafts.language(turn), key, **params)
        return [Reply(text=text), prompt_to_reply(self._engine.current_prompt(turn.record["flow"]))]

    def _take_attachment(
        self, session: Session, turn: Turn, attachment: Attachment, now: datetime
    ) -> list[Outbound]:
        try:
            cleaned = clean_file(
                attachment.data, self._max_attachment_bytes, attachment.declared_size
            )
        except FileRejected as rejected:
            max_mb = str(self._max_attachment_bytes // (1024 * 1024))
            return self._tell(turn, f"file.{rejected.reason}", max_mb=max_mb)
        stored = Attachment(cleaned.data, cleaned.media_type, attachment.name)
        attachment_id = cases.store_draft_attachment(
            session, self._cipher, turn.conversation.id, stored, now
        )
        outcome = self._engine.handle(turn.record["flow"], Answer(attachment=attachment_id))
        return self._apply(session, turn, outcome)

    @property
    def max_attachment_bytes(self) -> int:
        """Channels skip downloading larger files (and say so via `declared_size`)."""
        return self._max_attachment_bytes

    def warn_device_change(self, channel: str, sender: str, kind: str = "new_device") -> int:
        """A known defender's account shows a device they did not verify ("new_device")
        or a changed identity ("identity_changed"): warn the officers.

        The case whose reply the conversation awaits (the only one it knows)
        gets a warning event (sealed like the case) and an audit entry; a draft
        carries the warning to its case at submission. Returns how many cases
        were warned.
        """
        now = self._clock()
        with self._sessions.begin() as session:
            turn = self._drafts.open(session, channel, sender)
            if turn is None:
                return 0
            turn.record["device_changed"] = True
            if kind == "identity_changed":
                turn.record["device_change_kind"] = kind
            # No case list: the case it knows is the one whose reply it awaits.
            awaited = [str(turn.record["reply_to"])] if turn.record.get("reply_to") else []
            self._drafts.save(session, turn)
            warned = defender_side.warn_device_change(session, self._cipher, awaited, now, kind)
        self._audited += warned
        if warned:
            with self._sessions() as session:
                audit.sync_checkpoint(session, self._audit_checkpoint)
        return warned

    def notice(self, key: str, language: str | None = None) -> str:
        """A channel-level notice (group refused, rate limited...) in the best language."""
        lang = (language or self._default_language).split("-")[0].lower()
        return self._catalog.text(
            lang if lang in self._catalog.languages else "en", f"notice.{key}"
        )

    def _apply(self, session: Session, turn: Turn, outcome: Outcome) -> list[Outbound]:
        before = turn.record["flow"]
        turn.record["flow"] = dict(outcome.state)
        replies: list[Outbound] = []
        for effect in outcome.effects:
            try:
                replies.extend(self._effects.table[type(effect)](session, turn, effect))
            except NoKeyAtHand:
                # No recovery key to seal to: nothing was written; the draft stays
                # at its confirmation and the defender is told it will go shortly.
                log.error("submission deferred: no recovery key to seal the case to")
                turn.record["flow"] = before
                return self._tell(turn, self._effects.deferred_message(effect))
        replies.extend(prompt_to_reply(prompt) for prompt in outcome.prompts)
        return replies
