"""The durable inbox: messages kept sealed before any other work, answered exactly once.

For a platform that lets go of a message as soon as it has handed it over
(signal-cli: see `bots.signal`), acknowledging "after recording" is not
possible: the platform does not wait. So the channel calls, in order:

1. `keep(messages)`: one transaction seals each message (file bytes
   included) under the keyring into `inbox`, keyed by a keyed pseudonym of
   its platform identity, so a redelivery is recognised (and dropped)
   without storing who sent it. Durable when this returns; the channel may
   then delete the platform's copy (signal-cli's attachment files) and tell
   the sender "read".
2. `answer()`: the core processes pending rows in one transaction
   (`ConversationService.handle_batch`), and in that same transaction each
   row's payload is destroyed and its replies are sealed onto it. A crash
   before the commit leaves the rows pending; after it, the replies wait.
3. `sent(ids, traces)`: once the replies went out, only the digest stays; the
   ids of what was sent join the conversation's trace in the same transaction.

On start, `retry_set_aside()` puts back in line what an earlier session
could not open, `unsent()` gives replies a killed run did not finish sending
(sent again: at least once), then `answer()` processes what was kept but
never answered. Nothing kept is lost; nothing is processed twice.

A row that does not open (tampered, its KEK version destroyed, a sealed body
this version cannot read) is set aside (state "unreadable"), with an ERROR
naming its random id and the error class, never content: it must not hold up
the messages behind it, and it is not deleted. `keys verify` names it,
`/readyz` and `/metrics` count it; `hrd-intake purge` deletes it only once
nothing can open it any more (its KEK version retired or gone).

Who can decrypt: the service (keyring). Payloads and replies live only
until they are answered and sent, each row's data key wrapped under a KEK
version like every keyring record (`keys rewrap` moves it, `keys retire`
waits for it, `keys verify` opens it: `intake.storage.wrapped_keys`); a done
row keeps only its digest (a keyed pseudonym, its version in
`pseudonym_version`), which `hrd-intake purge` forgets after
`[retention] processed_message_days` (`intake.keys.retention`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError, KeyNotFound
from intake.core.service import ConversationService
from intake.messages import Answer, Attachment, Choice, Inbound, Outbound, Reply, WipeChat
from intake.storage import conversations
from intake.storage import inbox as inbox_store
from intake.storage.models import InboxMessage
from intake.storage.records import RecordCipher, new_record_id

__all__ = ["Answer", "DurableInbox"]

RECORD = inbox_store.RECORD_TYPE
FORMAT = 1
# What makes one message unreadable, as opposed to a database that failed (the whole
# step is then retried): a crypto error, or a sealed body this version cannot read.
_UNREADABLE = (CryptoError, ValueError, KeyError, TypeError)

log = logging.getLogger(__name__)


class DurableInbox:
    """Keeps, answers and forgets a channel's messages (see the module docstring).

    Args:
        service: the conversation service that answers.
        sessions: opens database sessions.
        cipher: seals under the keyring; who can decrypt: the service.
        clock: returns the current aware UTC time.
    """

    def __init__(
        self,
        service: ConversationService,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        clock: Callable[[], datetime],
    ) -> None:
        self._service = service
        self._sessions = sessions
        self._cipher = cipher
        self._clock = clock

    def _digests(self, channel: str, message_id: str) -> list[str]:
        return [d for _, d in self._cipher.pseudonym_candidates(f"inbox:{channel}", message_id)]

    def keep(self, channel: str, messages: Sequence[Inbound]) -> list[bool]:
        """Seal each message in one transaction; False for those kept before (redeliveries)."""
        now = self._clock()
        kept: list[bool] = []
        with self._sessions.begin() as session:
            candidates = [self._digests(channel, m.message_id) for m in messages]
            present = inbox_store.digests_present(
                session, channel, [d for digests in candidates for d in digests]
            )
            for index, (message, digests) in enumerate(zip(messages, candidates, strict=True)):
                if present.intersection(digests):
                    kept.append(False)
                    continue
                present.add(digests[0])
                record_id = new_record_id()
                dek, wrapped, version = self._cipher.new_key(RECORD, record_id)
                version_used, digest = self._cipher.pseudonym(
                    f"inbox:{channel}", message.message_id
                )
                payload = json.dumps(_inbound_to_json(message)).encode("utf-8")
                inbox_store.add_message(
                    session,
                    InboxMessage(
                        id=record_id,
                        channel=channel,
                        digest=digest,
                        pseudonym_version=version_used,
                        state=inbox_store.PENDING,
                        dek_wrapped=wrapped,
                        kek_version=version,
                        # Who can decrypt: the service, until the core has answered.
                        payload_ct=self._cipher.seal(dek, RECORD, record_id, "payload", payload),
                        # Later rows of one batch sort after earlier ones.
                        received_at=now + timedelta(microseconds=index),
                    ),
                )
                kept.append(True)
        return kept

    def answer(self, channel: str, limit: int = 100) -> list[Answer]:
        """Process pending messages (oldest first) in one transaction; their answers.

        A message that does not open is set aside (see `_set_aside`), never retried
        in a loop: the next ones are answered in its place.
        """
        while True:
            with self._sessions() as session:
                rows = inbox_store.messages_in_state(session, channel, inbox_store.PENDING, limit)
                opened, unreadable = self._open_rows(rows, "payload")
                new_senders = self._new_senders(session, channel, [m for _, m in opened])
            self._set_aside(channel, unreadable, inbox_store.PENDING)
            if opened or not unreadable:
                break  # each round without an opened row set at least one aside: bounded
        if not opened:
            return []
        answers: list[Answer] = []
        inbound = [message for _, message in opened]
        first: set[int] = set()
        for index, message in enumerate(inbound):
            if message.sender in new_senders:
                new_senders.discard(message.sender)
                first.add(index)

        def within(session: Session, start: int, replies: list[list[Outbound]]) -> None:
            for offset, outbound in enumerate(replies):
                index = start + offset
                row_id, message = opened[index]
                answer = Answer(
                    row_id,
                    channel,
                    message.sender,
                    message.chat,
                    message.message_id,
                    message.language,
                    tuple(outbound),
                    first_contact=index in first,
                )
                self._store_answer(session, answer)
                answers.append(answer)

        self._service.handle_batch(inbound, within=within)
        return answers  # in order: the core's slices come in order

    def _new_senders(self, session: Session, channel: str, messages: Sequence[Inbound]) -> set[str]:
        new: set[str] = set()
        for sender in {m.sender for m in messages}:
            candidates = self._cipher.pseudonym_candidates(f"sender:{channel}", sender)
            if (
                conversations.find_conversation(session, channel, [d for _, d in candidates])
                is None
            ):
                new.add(sender)
        return new

    def _store_answer(self, session: Session, answer: Answer) -> None:
        row = session.get(InboxMessage, answer.id)
        if row is None or row.dek_wrapped is None:
            return
        body = json.dumps(_answer_to_json(answer)).encode("utf-8")
        dek = self._cipher.open_key(RECORD, row.id, row.dek_wrapped)
        row.payload_ct = None  # the message itself (and its file) is gone from here on
        row.answer_ct = self._cipher.seal(dek, RECORD, row.id, "answer", body)
        row.state = inbox_store.ANSWERED

    def unsent(self, channel: str, limit: int = 500) -> list[Answer]:
        """Answers committed by an earlier run and not (all) sent (those that open)."""
        with self._sessions() as session:
            rows = inbox_store.messages_in_state(session, channel, inbox_store.ANSWERED, limit)
            opened, unreadable = self._open_rows(rows, "answer")
        self._set_aside(channel, unreadable, inbox_store.ANSWERED)
        return [answer for _, answer in opened]

    def retry_set_aside(self, channel: str) -> int:
        """Put messages set aside back in line (a restored keyring may open them now).

        Called as a channel session starts, before `unsent`: each is tried once more
        per session, and set aside again (with its ERROR) if it still does not open.
        """
        with self._sessions.begin() as session:
            return inbox_store.requeue_set_aside(session, channel)

    def sent(
        self,
        ids: Sequence[str],
        channel: str = "",
        traces: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """These answers went out; `traces`: sender -> ids of what was sent, to wipe later.

        One transaction for both: an answer is never done without its trace.
        """
        with self._sessions.begin() as session:
            if traces:
                self._service.record_sent_in(session, channel, traces)
            inbox_store.mark_done(session, ids)

    def _open_rows(
        self, rows: Sequence[InboxMessage], what: str
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
        """(id, opened value) of the rows that open, and (id, error class) of those that do not."""
        opened: list[tuple[str, Any]] = []
        unreadable: list[tuple[str, str]] = []
        for row in rows:
            try:
                opened.append((row.id, self._open(row, what)))
            except KeyNotFound:
                # Written under a version this process has not loaded yet (another
                # process rotated and wrote first): read the keyring file, try once more.
                self._cipher.fresh_keyring()
                try:
                    opened.append((row.id, self._open(row, what)))
                except _UNREADABLE as exc:
                    unreadable.append((row.id, type(exc).__name__))
            except _UNREADABLE as exc:
                unreadable.append((row.id, type(exc).__name__))
        return opened, unreadable

    def _set_aside(self, channel: str, unreadable: Sequence[tuple[str, str]], state: str) -> None:
        """Set rows that did not open aside, each with an ERROR naming it and the error only.

        Never retried in a loop (it would hold up every later message) and never
        deleted: the row keeps its ciphertext and wrapped key, `keys verify` names it,
        `/readyz` and `/metrics` count it (`unreadable_inbox_messages`), and the next
        channel session tries it again (`retry_set_aside`). Logged once committed.
        """
        if not unreadable:
            return
        with self._sessions.begin() as session:
            moved = [
                (row_id, error)
                for row_id, error in unreadable
                if inbox_store.set_aside(session, row_id, state)
            ]
        for row_id, error in moved:
            log.error(
                "an inbox message does not open: set aside, not processed (keys verify names it)",
                extra={"channel": channel, "record": row_id, "kind": error},
            )

    def _open(self, row: InboxMessage, what: str) -> Any:
        if row.dek_wrapped is None:
            raise ValueError("inbox row already done")
        dek = self._cipher.open_key(RECORD, row.id, row.dek_wrapped)
        blob = row.payload_ct if what == "payload" else row.answer_ct
        if blob is None:
            raise ValueError(f"inbox row has no {what}")
        value = json.loads(self._cipher.open(dek, RECORD, row.id, what, blob))
        if what == "payload":
            return _inbound_from_json(value)
        return _answer_from_json(row.id, row.channel, value)


# -- serialisation (inside the sealed fields only) ------------------------------


def _inbound_to_json(message: Inbound) -> dict[str, Any]:
    attachment = message.attachment
    return {
        "v": FORMAT,
        "channel": message.channel,
        "sender": message.sender,
        "chat": message.chat,
        "message_id": message.message_id,
        "text": message.text,
        "choice": message.choice,
        "language": message.language,
        "unsupported": message.unsupported,
        "attachment": None
        if attachment is None
        else {
            "data": base64.b64encode(attachment.data).decode("ascii"),
            "media_type": attachment.media_type,
            "name": attachment.name,
            "declared_size": attachment.declared_size,
        },
    }


def _inbound_from_json(value: dict[str, Any]) -> Inbound:
    raw = value.get("attachment")
    attachment = (
        None
        if raw is None
        else Attachment(
            base64.b64decode(raw["data"]), raw["media_type"], raw["name"], raw["declared_size"]
        )
    )
    return Inbound(
        channel=value["channel"],
        sender=value["sender"],
        chat=value["chat"],
        message_id=value["message_id"],
        text=value["text"],
        choice=value["choice"],
        attachment=attachment,
        language=value["language"],
        unsupported=value["unsupported"],
    )


def _answer_to_json(answer: Answer) -> dict[str, Any]:
    outbound: list[dict[str, Any]] = []
    for out in answer.outbound:
        if isinstance(out, WipeChat):
            outbound.append({"wipe": list(out.message_ids)})
        else:
            choices = [[c.value, c.label] for c in out.choices]
            outbound.append(
                {"text": out.text, "choices": choices, "multi": out.multi, "tag": out.tag}
            )
    return {
        "v": FORMAT,
        "sender": answer.sender,
        "chat": answer.chat,
        "message_id": answer.message_id,
        "language": answer.language,
        "first_contact": answer.first_contact,
        "outbound": outbound,
    }


def _answer_from_json(row_id: str, channel: str, value: dict[str, Any]) -> Answer:
    outbound: list[Outbound] = []
    for out in value["outbound"]:
        if "wipe" in out:
            outbound.append(WipeChat(tuple(out["wipe"])))
        else:
            choices = tuple(Choice(v, label) for v, label in out["choices"])
            outbound.append(Reply(out["text"], choices, bool(out["multi"]), out.get("tag")))
    return Answer(
        row_id,
        channel,
        value["sender"],
        value["chat"],
        value["message_id"],
        value["language"],
        tuple(outbound),
        first_contact=bool(value["first_contact"]),
    )
