"""What a channel calls of the core: the conversation service as channels see it.

Channels depend on this protocol, not on `intake`'s concrete service, so a
channel can be read (and tested) knowing only these calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from intake.messages import Inbound, Outbound, PendingDelivery

__all__ = ["Core"]


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

    def warn_device_change(self, channel: str, sender: str) -> int:
        """A known defender shows a new or changed device: warn the officers."""

    def notice(self, key: str, language: str | None = None) -> str:
        """A channel-level notice in the best language."""
