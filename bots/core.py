"""What a channel calls of the core: the conversation service as channels see it.

Channels depend on this protocol, not on `intake`'s concrete service, so a
channel can be read (and tested) knowing only these calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from intake.messages import Answer, Inbound, Outbound, PendingDelivery

__all__ = ["Core", "Inbox"]


class Core(Protocol):
    """The conversation service's face towards channels (see `intake`'s service)."""

    def handle(self, message: Inbound) -> list[Outbound]:
        """Answer one inbound message (recorded durably before it returns)."""

    def handle_batch(self, messages: Sequence[Inbound]) -> list[list[Outbound]]:
        """Answer a platform batch in one transaction, in order."""

    def record_sent(self, channel: str, sender: str, message_ids: Sequence[str]) -> None:
        """Remember (encrypted) the ids of messages sent, to delete them later."""

    def record_sent_many(self, channel: str, sent: Mapping[str, Sequence[str]]) -> None:
        """`record_sent` for several senders in one transaction."""

    def claim_deliveries(
        self, channel: str, limit: int = 50, max_attempts: int | None = None
    ) -> list[PendingDelivery]:
        """Officer messages for this channel to send."""

    def release(self, deliveries: Sequence[PendingDelivery]) -> None:
        """Give back claimed deliveries this worker will not send."""

    def delivered(self, delivery: PendingDelivery, sent_message_ids: Sequence[str] = ()) -> None:
        """Forget a sent delivery, remembering its platform ids to wipe them later."""

    @property
    def max_attachment_bytes(self) -> int:
        """Larger files are not downloaded."""

    def warn_device_change(self, channel: str, sender: str, kind: str = "new_device") -> int:
        """A known defender shows a device they did not verify ("new_device") or a
        changed identity ("identity_changed"): warn the officers."""

    def notice(self, key: str, language: str | None = None) -> str:
        """A channel-level notice in the best language."""

    def language_of(self, channel: str, sender: str) -> str | None:
        """The language of a sender's conversation, if any (for a channel's notices)."""


class Inbox(Protocol):
    """The core's durable inbox, for platforms that do not wait for an acknowledgement.

    See `intake.core.inbox`: `keep` before any other work, then `answer`, send,
    `sent`; on start, `retry_set_aside` and `unsent` first.
    """

    def keep(self, channel: str, messages: Sequence[Inbound]) -> list[bool]:
        """Seal each message durably; False for one kept before (a redelivery)."""

    def answer(self, channel: str, limit: int = 100) -> list[Answer]:
        """Process kept messages in one transaction; the replies, kept until `sent`."""

    def unsent(self, channel: str, limit: int = 500) -> list[Answer]:
        """Answers an earlier run committed but did not finish sending."""

    def retry_set_aside(self, channel: str) -> int:
        """Put back in line the messages set aside because they did not open; how many."""

    def sent(
        self,
        ids: Sequence[str],
        channel: str = "",
        traces: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """These answers went out: forget them (the digest stays), remember `traces`."""
