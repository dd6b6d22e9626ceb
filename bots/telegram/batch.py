"""One batch of updates: read, admit, download, record in one transaction, answer.

The order is what makes intake durable (DESIGN.md section 4):

1. `prepare`: apply the rate limit to the updates read, download files;
2. `commit`: the conversation service records the batch in one transaction
   (in a worker thread: it is blocking); once it returns, the batch is durable;
3. `deliver`: render the replies, delete what the core asked to wipe, then
   remember (encrypted, via the core) the ids of the messages the bot sent.

Only after `deliver` does the caller acknowledge the batch to Telegram (the
polling offset, or the webhook's 200). A crash anywhere before that brings
the same updates again; the core processes each message key once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bots.core import Core
from bots.ratelimit import RateLimiter, Verdict
from bots.telegram.render import Renderer
from bots.telegram.updates import CHANNEL, Incoming, Route
from intake.messages import Attachment, Outbound, Reply, WipeChat

log = logging.getLogger("bots.telegram.channel")


@dataclass
class Item:
    incoming: Incoming
    verdict: Verdict | None = None  # for updates the rate limit applies to
    attachment: Attachment | None = None

    @property
    def to_core(self) -> bool:
        return self.incoming.route is Route.CORE and self.verdict is Verdict.ALLOW


@dataclass
class Batch:
    """A prefix of the updates Telegram gave, ready for the core."""

    items: list[Item]
    # Telegram's side effects of reading (answering buttons) are done once per batch.
    touched: bool = field(default=False)

    @property
    def last_update_id(self) -> int:
        return self.items[-1].incoming.update_id

    def __len__(self) -> int:
        return len(self.items)


class BatchProcessor:
    """Turns updates into recorded messages and rendered replies.

    Args:
        service: the conversation service.
        renderer: makes the Bot API calls.
        limiter: the per-sender rate limit.
        max_batch_bytes: files downloaded for one batch at most (the rest waits
            for the next batch, unacknowledged): bounds memory.
        outage_grace: seconds of failing commits before defenders are told
            the bot will answer shortly.
        clock: monotonic seconds.
        officers_chat: the officers' notification group: the bot stays there
            silently (any other group is refused and left).
        after_batch: called once a batch is answered (it may have queued a
            notification: the delivery worker looks at once).
    """

    def __init__(
        self,
        service: Core,
        renderer: Renderer,
        limiter: RateLimiter,
        *,
        max_batch_bytes: int = 64 * 1024 * 1024,
        outage_grace: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        concurrency: int = 32,
        officers_chat: int | None = None,
        after_batch: Callable[[], None] | None = None,
    ) -> None:
        self._service = service
        self._officers_chat = officers_chat
        self._after_batch = after_batch
        self._renderer = renderer
        self._limiter = limiter
        self._max_batch_bytes = max_batch_bytes
        self._outage_grace = outage_grace
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        # Ids of bot messages sent but not yet remembered by the core, per sender.
        self._unrecorded: dict[str, list[int]] = {}
        self._outage_since: float | None = None
        self._told_outage: set[str] = set()

    # -- 1. prepare -----------------------------------------------------------

    async def prepare(self, updates: Sequence[Incoming]) -> Batch:
        """Cut to the byte budget, admit and download. Never empty for non-empty input.

        Raises:
            telegram.error.TelegramError: a download kept failing (retry the batch later).
        """
        incoming = sorted(updates, key=lambda i: i.update_id)
        items: list[Item] = []
        budget = 0
        for update in incoming:
            budget += self._download_size(update)
            if items and budget > self._max_batch_bytes:
                break  # the rest stays unacknowledged and comes with the next batch
            items.append(Item(update, self._admit(update)))
        await asyncio.gather(*(self._download(item) for item in items))
        return Batch(items)

    def _download_size(self, update: Incoming) -> int:
        if update.file is None or update.route is not Route.CORE:
            return 0
        limit = self._service.max_attachment_bytes
        size = update.file.size if update.file.size is not None else limit
        return size if size <= limit else 0  # too large: not downloaded at all

    def _admit(self, update: Incoming) -> Verdict | None:
        if update.route is Route.CORE and update.sender is not None:
            return self._limiter.admit(update.sender, update.sent_at)
        if update.route is Route.GROUP and update.chat_id is not None:
            return self._limiter.admit(f"group:{update.chat_id}")
        return None

    async def _download(self, item: Item) -> None:
        ref = item.incoming.file
        if ref is None or not item.to_core:
            return
        too_large = Attachment(b"", ref.media_type, ref.name, declared_size=ref.size)
        if ref.size is not None and ref.size > self._service.max_attachment_bytes:
            item.attachment = too_large  # the core refuses it politely
            return
        async with self._slots:
            data = await self._renderer.download(ref.file_id)
        # Not served (over the Bot API's download limit, or gone): the core refuses it.
        item.attachment = too_large if data is None else Attachment(data, ref.media_type, ref.name)

    # -- 2. commit ------------------------------------------------------------

    async def commit(self, batch: Batch) -> list[list[Outbound]]:
        """Record the batch in one transaction; durable when this returns.

        Raises:
            Exception: whatever the core raised; nothing of the batch was recorded.
        """
        inbound = [item.incoming.inbound(item.attachment) for item in batch.items if item.to_core]
        touch = self._touch(batch)
        if not inbound:
            await touch
            return []
        # The buttons' spinners stop while the core works.
        results = await asyncio.gather(
            asyncio.to_thread(self._service.handle_batch, inbound), touch, return_exceptions=True
        )
        if isinstance(results[0], BaseException):
            raise results[0]
        self._outage_since = None
        self._told_outage.clear()
        log.info("batch recorded", extra={"channel": CHANNEL, "count": len(inbound)})
        return results[0]

    async def _touch(self, batch: Batch) -> None:
        """Answer pressed buttons and remove their keyboards (once per batch)."""
        if batch.touched:
            return
        batch.touched = True
        calls = []
        for item in batch.items:
            update = item.incoming
            if update.callback_id is not None:
                calls.append(self._renderer.answer_callback(update.callback_id))
            if update.pressed_message is not None and update.chat_id is not None:
                calls.append(self._renderer.drop_keyboard(update.chat_id, update.pressed_message))
        await asyncio.gather(*calls)

    async def failed(self, batch: Batch) -> None:
        """The commit failed: once an outage lasts, tell each defender once that we will answer."""
        now = self._clock()
        if self._outage_since is None:
            self._outage_since = now
        if now - self._outage_since < self._outage_grace:
            return
        for item in batch.items:
            update = item.incoming
            if not item.to_core or update.sender is None or update.chat_id is None:
                continue
            if update.sender in self._told_outage:
                continue
            self._told_outage.add(update.sender)
            text = self._service.notice("back_shortly", update.language)
            sent = await self._renderer.send_text(update.chat_id, text)
            if sent is not None:
                self._unrecorded.setdefault(update.sender, []).append(sent)

    # -- 3. deliver -----------------------------------------------------------

    async def deliver(self, batch: Batch, results: Sequence[Sequence[Outbound]]) -> None:
        """Answer every update of the batch, chat by chat (in order within a chat).

        Returns once the ids of every message sent were handed to the core
        (after every chat is answered: a later wipe in a chat must still see them).
        """
        answers = iter(results)
        by_chat: dict[int, list[tuple[Item, Sequence[Outbound]]]] = {}
        for item in batch.items:
            outbound = next(answers) if item.to_core else ()
            if item.incoming.chat_id is not None:
                by_chat.setdefault(item.incoming.chat_id, []).append((item, outbound))
        await asyncio.gather(*(self._deliver_chat(chat, todo) for chat, todo in by_chat.items()))
        await self.remember_sent()
        if self._after_batch is not None:
            self._after_batch()

    async def _deliver_chat(
        self, chat_id: int, todo: Sequence[tuple[Item, Sequence[Outbound]]]
    ) -> None:
        async with self._slots:
            for item, outbound in todo:
                await self._deliver_item(chat_id, item, outbound)

    async def _deliver_item(self, chat_id: int, item: Item, outbound: Sequence[Outbound]) -> None:
        update = item.incoming
        if update.route is Route.GROUP:
            if chat_id == self._officers_chat:
                return  # where officers are notified: not a conversation, and not left
            if item.verdict is Verdict.ALLOW:
                # Nothing said in a group reaches the core: explain, and leave.
                text = self._service.notice("group_refused", update.language)
                await self._renderer.send_text(chat_id, text)
                await self._renderer.leave(chat_id)
            return
        sender = update.sender
        if update.route is not Route.CORE or sender is None:
            return
        if item.verdict is Verdict.DENY_NOTIFY:
            text = self._service.notice("rate_limited", update.language)
            self._sent(sender, await self._renderer.send_text(chat_id, text))
        if not item.to_core:
            return
        if update.delete_now is not None:
            # A file or a position: off the device as soon as it is recorded.
            await self._renderer.delete_one(chat_id, update.delete_now)
        for out in outbound:
            if isinstance(out, Reply):
                for sent in await self._renderer.send_reply(chat_id, out):
                    self._sent(sender, sent)
            elif isinstance(out, WipeChat):
                await self._wipe(chat_id, sender, out)

    async def _wipe(self, chat_id: int, sender: str, wipe: WipeChat) -> None:
        # What the core remembered, plus what was sent since (not yet remembered).
        ids = [int(i) for i in wipe.message_ids if i.isdigit()]
        ids += self._unrecorded.pop(sender, [])
        if not await self._renderer.delete(chat_id, ids):
            # The core forgot these ids; remember them again for the next wipe.
            self._unrecorded.setdefault(sender, []).extend(ids)

    def _sent(self, sender: str, message_id: int | None) -> None:
        if message_id is not None:
            self._unrecorded.setdefault(sender, []).append(message_id)

    async def remember_sent(self) -> None:
        """Hand the ids of sent messages to the core (encrypted there); keep failures."""
        pending, self._unrecorded = self._unrecorded, {}
        if not pending:
            return
        failed = await asyncio.to_thread(self._record_sent, pending)
        for sender, ids in failed.items():
            self._unrecorded[sender] = ids + self._unrecorded.get(sender, [])

    def _record_sent(self, pending: dict[str, list[int]]) -> dict[str, list[int]]:
        try:
            self._service.record_sent_many(
                CHANNEL, {sender: [str(i) for i in ids] for sender, ids in pending.items()}
            )
        except Exception:  # noqa: BLE001 - any storage failure: keep the ids, retry later
            log.warning("sent message ids not recorded yet", extra={"channel": CHANNEL})
            return pending
        return {}

    # -- all at once (webhook) -------------------------------------------------

    async def process(self, updates: Sequence[Incoming]) -> int:
        """Prepare, commit and deliver; returns how many of `updates` were consumed.

        Raises:
            Exception: the batch was not recorded (tell Telegram to send it again).
        """
        batch = await self.prepare(updates)
        try:
            results = await self.commit(batch)
        except Exception:
            await self.failed(batch)
            raise
        await self.deliver(batch, results)
        return len(batch)
