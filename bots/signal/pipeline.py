"""One batch of Signal notifications: keep, mark read, answer, send.

When signal-cli lets go of a message (verified in its source,
`lib/.../helper/ReceiveHelper.java`, 0.13-0.14): it stores the encrypted
envelope in its message cache, **acknowledges it to Signal's server**,
decrypts it, writes the `receive` notification to the subscribed clients,
and deletes it from its cache. So from the moment the notification is
written, the only copy is in the bot's socket buffer: signal-cli will not
send it again (only a signal-cli crash before that deletion makes it hand
the same envelope over again after its restart). Hence the order here:

1. read what is in the socket (`RpcClient.notifications`), and apply the
   per-sender rate limit (below);
2. `Inbox.keep`: sealed in the database, before any other work ("read means
   kept"); then the attachment files are deleted from signal-cli's folder;
3. `sendReceipt` "read": the defender's phone shows a message read only once
   it is kept. A message the bot was killed holding (unread in the socket)
   never shows as read: the notice at first contact asks defenders to send
   such a message again;
4. `Inbox.answer` (the core, one transaction; replies sealed with it), then
   the replies go out (`updateContact` timer at first contact, `send`,
   `remoteDelete` for a wipe), then `Inbox.sent`.

Sent messages' timestamps join the conversation's trace (sealed, in the
transaction of `Inbox.sent`), so a later wipe can remote-delete them.

**Over the rate limit** (`bots.ratelimit`, per sender ACI, held in memory
only; counted by Signal's server receive time, which the sender cannot
choose, so a backlog that waited on the server while the bot was down is no
flood): the message is dropped before step 2. Nothing of it is kept, its
files are deleted, the core never sees it; signal-cli has let go of it, so
it is gone (a flood must cost neither the core nor the inbox). It is **not
marked read**, on purpose: on this channel "read" means "kept", and the
first-contact notice tells defenders to send again what does not show as
read. Marking a dropped message read would tell the defender it arrived
when it was thrown away, and they would not send it again. The sender is
told once per episode, after the answers to what was admitted
(`signal_rate_limited`: wait a minute, then send again each message Signal
does not show as read), so the read marks say exactly what to resend;
further messages of the episode are dropped quietly. Signal gives no
language hint: the notice is in the language of the sender's conversation,
or the default language for someone who has none yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bots.core import Core, Inbox
from bots.ratelimit import RateLimiter, Verdict
from bots.signal.envelopes import AttachmentRef, Envelope, Kind, read_notification
from bots.signal.files import AttachmentFolder
from bots.signal.render import render_reply
from bots.signal.rpc import DaemonUnavailable, RpcError
from intake.messages import Answer, Inbound, Reply, WipeChat

__all__ = ["Pipeline"]

log = logging.getLogger("bots.signal.channel")

CHANNEL = "signal"
MAX_RECEIPTED = 10_000
SEND_CONCURRENCY = 16  # defenders answered side by side (calls pipelined on one connection)
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class _Read:
    envelope: Envelope
    messages: list[Inbound]
    files: tuple[AttachmentRef, ...]


class Pipeline:
    """Drives notifications through the inbox and the core.

    Args:
        service: the conversation service (notices, sent traces).
        inbox: the core's durable inbox.
        folder: signal-cli's attachment folder.
        disappearing_seconds: the timer set at first contact (0: none).
        limiter: the per-sender rate limit (default: burst 10, then 30 a minute).
        retry: seconds between tries of a database step that failed.
    """

    def __init__(
        self,
        service: Core,
        inbox: Inbox,
        folder: AttachmentFolder,
        disappearing_seconds: int,
        limiter: RateLimiter | None = None,
        retry: float = 1.0,
    ) -> None:
        self._service = service
        self._inbox = inbox
        self._folder = folder
        self._seconds = disappearing_seconds
        self._limiter = RateLimiter() if limiter is None else limiter
        # Senders over the limit and not yet told (the answering task tells them).
        self._to_tell: dict[str, None] = {}
        self._retry = retry
        # One database step at a time: keeping and answering run side by side, and two
        # SQLite writers would meet in its busy handler, which sleeps in coarse steps.
        self._database = asyncio.Lock()
        # (sender, timestamp) marked read by this process (bounded): not marked twice.
        self._receipted: dict[tuple[str, int], None] = {}

    # -- 1-3: keep and mark read ----------------------------------------------------

    async def keep(self, call: Call, notifications: Sequence[dict[str, Any]]) -> None:
        """Seal the batch in the inbox (retried until it works), delete files, mark read.

        What is over the rate limit is not kept and not marked read (see the
        module docstring); only its files are deleted.
        """
        read: list[_Read] = []
        for envelope in map(read_notification, notifications):
            if self._admit(envelope):
                read.append(self._read(envelope))
            else:  # over the limit: its files are deleted, nothing else is done
                read.append(_Read(envelope, [], envelope.attachments))
        inbound = [m for item in read for m in item.messages]
        if inbound:
            await self._until_done(lambda: self._inbox.keep(CHANNEL, inbound), "kept")
        self._folder.remove(ref for item in read for ref in item.files)
        stamps: dict[str, list[int]] = {}
        for item in read:
            if item.messages:  # kept now or before: either way, it is in the inbox
                stamps.setdefault(item.envelope.sender, []).append(item.envelope.timestamp)
        await self._receipts(call, stamps)

    def _admit(self, envelope: Envelope) -> bool:
        """Whether this envelope goes on to the inbox (False: dropped, over the limit)."""
        if envelope.kind in (Kind.IGNORE, Kind.GROUP):
            return True  # nothing for the core: it costs nothing and counts for nothing
        if (envelope.sender, envelope.timestamp) in self._receipted:
            return True  # signal-cli handing over again what was kept: the inbox drops it
        sent_at = None if envelope.received is None else envelope.received / 1000
        verdict = self._limiter.admit(envelope.sender, sent_at)
        if verdict is Verdict.DENY_NOTIFY:
            self._to_tell[envelope.sender] = None
            log.info(
                "a sender is over the rate limit: told once, the rest dropped unread",
                extra={"channel": CHANNEL},
            )
        return verdict is Verdict.ALLOW

    def _read(self, envelope: Envelope) -> _Read:
        if envelope.kind in (Kind.IGNORE, Kind.GROUP):
            # Groups (the officers' included) are not conversations; a group's files
            # are not ours to keep either.
            return _Read(envelope, [], envelope.attachments)
        base = Inbound(
            channel=CHANNEL,
            sender=envelope.sender,
            chat=envelope.sender,
            message_id=envelope.key,
            unsupported=envelope.unsupported,
        )
        if envelope.unsupported is not None:
            return _Read(envelope, [base], envelope.attachments)
        if envelope.attachments:
            # One inbound message per file; a caption is not read (as on Telegram).
            messages = [
                Inbound(
                    channel=CHANNEL,
                    sender=envelope.sender,
                    chat=envelope.sender,
                    message_id=f"{envelope.key}:{index}",
                    attachment=self._folder.take(ref),
                )
                for index, ref in enumerate(envelope.attachments)
            ]
            return _Read(envelope, messages, envelope.attachments)
        text = Inbound(
            channel=CHANNEL,
            sender=envelope.sender,
            chat=envelope.sender,
            message_id=envelope.key,
            text=envelope.text,
        )
        return _Read(envelope, [text], ())

    async def _receipts(self, call: Call, stamps: dict[str, list[int]]) -> None:
        for sender, all_targets in stamps.items():
            targets = [t for t in dict.fromkeys(all_targets) if (sender, t) not in self._receipted]
            if not targets:
                continue
            try:
                await call(
                    "sendReceipt", {"recipient": sender, "targetTimestamp": targets, "type": "read"}
                )
            except RpcError as exc:
                log.info("read receipt refused (code %d)", exc.code, extra={"channel": CHANNEL})
            self._receipted.update(dict.fromkeys((sender, t) for t in targets))
            while len(self._receipted) > MAX_RECEIPTED:
                del self._receipted[next(iter(self._receipted))]

    # -- 4: answer and send ---------------------------------------------------------------

    async def answer(self, call: Call) -> int:
        """Answer everything kept and send it; then tell who went over the rate limit."""
        total = 0
        while True:
            answers = await self._until_done(lambda: self._inbox.answer(CHANNEL), "answered")
            if not answers:
                break
            await self.send(call, answers)
            total += len(answers)
        await self._tell_over_limit(call)
        return total

    async def _tell_over_limit(self, call: Call) -> None:
        """The rate-limit notice, once per episode, after the sender's answers went out.

        A sender stays to be told if signal-cli is gone (DaemonUnavailable): the
        next session's `resume` tells them. What was sent joins the trace.
        """
        if not self._to_tell:
            return
        traces: dict[str, list[str]] = {}
        slots = asyncio.Semaphore(SEND_CONCURRENCY)

        async def tell(sender: str) -> None:
            async with slots:
                # No language hint on Signal: the conversation's (see the module docstring).
                language = await asyncio.to_thread(self._service.language_of, CHANNEL, sender)
                text = self._service.notice("signal_rate_limited", language)
                try:
                    traces[sender] = await self._say(call, sender, text)
                except RpcError as exc:
                    if exc.fault is not None:
                        raise
                    log.warning(
                        "notice not delivered (code %d)", exc.code, extra={"channel": CHANNEL}
                    )
                self._to_tell.pop(sender, None)

        outcomes = await asyncio.gather(*map(tell, list(self._to_tell)), return_exceptions=True)
        if traces:
            await self._until_done(lambda: self._inbox.sent([], CHANNEL, traces), "sent")
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def resume(self, call: Call) -> None:
        """What a killed run left: answers not sent, then messages kept but not answered.

        Messages an earlier session set aside (they did not open) are tried once more
        first: a keyring restored meanwhile opens them; otherwise they are set aside
        again, without holding up the others.
        """
        await self._until_done(lambda: self._inbox.retry_set_aside(CHANNEL), "requeued")
        unsent = await self._until_done(lambda: self._inbox.unsent(CHANNEL), "read")
        if unsent:
            log.info(
                "sending answers left by the last run",
                extra={"channel": CHANNEL, "count": len(unsent)},
            )
            await self.send(call, unsent)
        await self.answer(call)

    async def send(self, call: Call, answers: Sequence[Answer]) -> None:
        """Send the answers, in order for each defender, defenders side by side.

        Each message is marked read before its answer goes out (unless this process
        marked it already): a run killed between keeping and marking, or a
        message kept by a run that died, still shows as read once answered.
        DaemonUnavailable (or a fault of the bot's own account) leaves a defender's
        remaining answers for the next session; what went out is recorded first.
        """
        await self._receipts(call, _stamps(answers))
        by_sender: dict[str, list[Answer]] = {}
        for answer in answers:
            by_sender.setdefault(answer.sender, []).append(answer)
        traces: dict[str, list[str]] = {}
        done: list[str] = []
        slots = asyncio.Semaphore(SEND_CONCURRENCY)

        async def one_defender(queue: list[Answer]) -> None:
            async with slots:
                for answer in queue:
                    await self._send_one(call, answer, traces.setdefault(answer.sender, []))
                    done.append(answer.id)

        outcomes = await asyncio.gather(
            *(one_defender(queue) for queue in by_sender.values()), return_exceptions=True
        )
        pending = {sender: ids for sender, ids in traces.items() if ids}
        if done or pending:
            await self._until_done(lambda: self._inbox.sent(done, CHANNEL, pending), "sent")
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _send_one(self, call: Call, answer: Answer, traces: list[str]) -> None:
        sender = answer.sender

        def notice(key: str) -> str:
            return self._service.notice(key, answer.language)

        try:
            if answer.first_contact and self._seconds:
                # Before the first reply, so the notice itself disappears too.
                await call("updateContact", {"recipient": sender, "expiration": self._seconds})
            for out in answer.outbound:
                if isinstance(out, WipeChat):
                    await self._wipe(call, sender, [*out.message_ids, *traces])
                    traces.clear()
                    traces.extend(await self._say(call, sender, notice("signal_wiped")))
                elif isinstance(out, Reply):
                    traces.extend(await self._say(call, sender, render_reply(out, notice)))
        except RpcError as exc:
            if exc.fault is not None:
                raise  # the bot's own account or version: the channel reports it
            # This defender cannot be reached (unregistered, blocked us): nothing to retry.
            log.warning("answer not delivered (code %d)", exc.code, extra={"channel": CHANNEL})

    async def _say(self, call: Call, recipient: str, text: str) -> list[str]:
        result = await call("send", {"recipient": [recipient], "message": text})
        stamp = result.get("timestamp") if isinstance(result, dict) else None
        return [str(stamp)] if isinstance(stamp, int) else []

    async def _wipe(self, call: Call, recipient: str, stamps: Sequence[str]) -> None:
        """Delete the bot's own messages for everyone (Signal allows it for about a day).

        One `remoteDelete` per message, all in flight at once: each is a message to
        Signal's server, and the defender waits for the last before the next reply.
        """

        async def delete(stamp: str) -> None:
            try:
                await call(
                    "remoteDelete", {"recipient": [recipient], "targetTimestamp": int(stamp)}
                )
            except RpcError as exc:
                if exc.fault is not None:
                    raise
                log.info("remote delete refused (code %d)", exc.code, extra={"channel": CHANNEL})

        targets = [stamp for stamp in dict.fromkeys(stamps) if stamp.isdigit()]
        outcomes = await asyncio.gather(*(delete(s) for s in targets), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    # -- retries ---------------------------------------------------------------------------

    async def _until_done(self, work: Callable[[], Any], what: str) -> Any:
        """Run a database step in a thread until it succeeds.

        Safe to repeat: each step is one transaction that failed whole (`keep` also
        skips what it kept). Unbounded on purpose for `keep`: the batch in hand is
        the only copy of those messages; logged at every try.
        """
        attempt = 0
        while True:
            try:
                async with self._database:
                    return await asyncio.to_thread(work)
            except DaemonUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - the database failed: nothing was written
                attempt += 1
                log.error(
                    "signal messages not %s yet (%s); retrying",
                    what,
                    type(exc).__name__,
                    extra={"channel": CHANNEL, "count": attempt},
                )
                await asyncio.sleep(min(30.0, self._retry * attempt))


def _stamps(answers: Sequence[Answer]) -> dict[str, list[int]]:
    stamps: dict[str, list[int]] = {}
    for answer in answers:
        stamp = answer.message_id.split(":")[1] if answer.message_id.count(":") >= 1 else ""
        if stamp.isdigit():
            stamps.setdefault(answer.sender, []).append(int(stamp))
    return stamps
