"""Neutral messages between the channels (`bots/`) and the core.

Every channel turns a platform update into one `Inbound` and renders the
`Outbound` values the core answers with. The core never calls a platform API.

`sender`, `chat` and everything a defender typed are sensitive: they are
handled in memory only and stored encrypted or as keyed pseudonyms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Attachment:
    """A file a defender sent, already downloaded by the channel."""

    data: bytes = field(repr=False)
    media_type: str
    name: str | None = field(default=None, repr=False)
    # The size the platform announced, when the channel did not download a
    # file that is plainly too large (data is then empty).
    declared_size: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One message from a defender, whatever the platform.

    `message_id` is unique per channel (a Telegram update id, a Matrix event
    id); the core processes a given id once.
    """

    channel: str
    sender: str = field(repr=False)
    chat: str = field(repr=False)
    message_id: str = field(repr=False)
    text: str | None = field(default=None, repr=False)
    choice: str | None = field(default=None, repr=False)
    attachment: Attachment | None = field(default=None, repr=False)
    # The platform's hint of the defender's language (Telegram gives one).
    language: str | None = None
    # This message's id in its chat, remembered (encrypted) so the channel
    # can delete it from the device later; None where nothing can be deleted.
    trace_id: str | None = field(default=None, repr=False)
    # Set instead of text/choice/attachment for what the core cannot read
    # (a sticker, a voice note, an edit): the defender is told, nothing changes.
    unsupported: Literal["unsupported", "edited"] | None = None


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Reply:
    """Text for the defender, with choices a channel may render as buttons."""

    text: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False


@dataclass(frozen=True)
class WipeChat:
    """Ask the channel to delete these messages of the conversation from the device.

    The ids are those the channel reported (`Inbound.trace_id`,
    `ConversationService.record_sent`); the core forgets them once handed over.
    """

    message_ids: tuple[str, ...] = field(default=(), repr=False)


Outbound = Reply | WipeChat


@dataclass(frozen=True)
class PendingDelivery:
    """A message an officer (or a notification) queued for a channel to send."""

    id: str
    channel: str
    kind: str
    chat: str
    text: str
    conversation_id: str | None
    attempts: int = 0  # claims so far, this one included


@dataclass(frozen=True)
class Answer:
    """What the core answered to one message kept in its inbox (`intake.core.inbox`).

    The channel sends `outbound`, then reports the answer sent.
    """

    id: str
    channel: str
    sender: str = field(repr=False)
    chat: str = field(repr=False)
    message_id: str = field(repr=False)
    language: str | None
    outbound: tuple[Outbound, ...] = field(repr=False)
    # The sender's first message on this channel: set the chat up (Signal: the timer).
    first_contact: bool = False
