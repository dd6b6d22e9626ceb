"""Reading signal-cli's `receive` notifications, without any I/O.

`read_notification` turns the params of one notification (either form:
``{"envelope": ...}`` in signal-cli's automatic receive modes, or
``{"subscription": N, "result": {"envelope": ...}}`` after `subscribeReceive`)
into an `Envelope`: who sent it (their ACI, the stable account id; the
phone number only when signal-cli knows no ACI), its timestamp (with the
sender, Signal's identity of a message: the dedup key, and what receipts
and remote deletes name; the sender's phone chose it), when Signal's server
received it (`received`: the server's clock, which the rate limit counts
by), and what it carries. Anything malformed becomes
`Kind.IGNORE`, never a crash.

Only one-to-one data messages reach the core. Group messages are not
conversations (the officers' notification group included); receipts, typing,
calls and sync messages (from the bot's other devices) are nothing to answer;
edits, stickers, reactions, contacts, polls and remote deletes are answered as
unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

__all__ = ["AttachmentRef", "Envelope", "Kind", "read_notification"]


class Kind(Enum):
    MESSAGE = "message"  # text and/or attachments, for the core
    UNSUPPORTED = "unsupported"  # answered: the core cannot read this
    EDITED = "edited"  # answered: edits are told, not applied
    GROUP = "group"  # a group message: not a conversation
    IGNORE = "ignore"  # receipts, typing, sync, calls, malformed


_UNSUPPORTED_FIELDS = (
    "sticker",
    "reaction",
    "contacts",
    "remoteDelete",
    "pollCreate",
    "pollVote",
    "pollTerminate",
    "payment",
)


@dataclass(frozen=True)
class AttachmentRef:
    """A file signal-cli stored in its attachment folder under `id`."""

    id: str = field(repr=False)
    media_type: str
    size: int | None
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Envelope:
    """One notification, read. Ids and content never reach a log (repr hides them)."""

    kind: Kind
    sender: str = field(default="", repr=False)
    timestamp: int = 0
    received: int | None = None  # serverReceivedTimestamp (ms), when signal-cli gives it
    text: str | None = field(default=None, repr=False)
    attachments: tuple[AttachmentRef, ...] = ()
    group: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """Signal's identity of this message: sender and timestamp."""
        return f"{self.sender}:{self.timestamp}"

    @property
    def unsupported(self) -> Literal["unsupported", "edited"] | None:
        if self.kind is Kind.UNSUPPORTED:
            return "unsupported"
        if self.kind is Kind.EDITED:
            return "edited"
        return None


def read_notification(params: Mapping[str, Any]) -> Envelope:
    """What one `receive` notification asks of the channel."""
    result = params.get("result")
    holder = result if isinstance(result, Mapping) else params
    envelope = holder.get("envelope")
    if not isinstance(envelope, Mapping):
        return Envelope(Kind.IGNORE)
    sender = _text(envelope.get("sourceUuid")) or _text(envelope.get("sourceNumber"))
    stamp = envelope.get("timestamp")
    if not sender or not isinstance(stamp, int) or isinstance(stamp, bool):
        return Envelope(Kind.IGNORE)
    received = envelope.get("serverReceivedTimestamp")
    if not isinstance(received, int) or isinstance(received, bool) or received <= 0:
        received = None
    base = Envelope(Kind.IGNORE, sender=sender, timestamp=stamp, received=received)
    edit = envelope.get("editMessage")
    data = envelope.get("dataMessage")
    if isinstance(edit, Mapping):
        inner = edit.get("dataMessage")
        if isinstance(inner, Mapping) and _group(inner):
            return _with(base, Kind.GROUP, group=_group(inner))
        return _with(base, Kind.EDITED)
    if not isinstance(data, Mapping):
        return base  # receipt, typing, sync, call, story
    group = _group(data)
    if group is not None:
        return _with(base, Kind.GROUP, group=group)
    if data.get("isExpirationUpdate") or data.get("viewOnce"):
        # A timer change is no message; view-once media cannot be kept as evidence.
        return base if data.get("isExpirationUpdate") else _with(base, Kind.UNSUPPORTED)
    if any(data.get(name) for name in _UNSUPPORTED_FIELDS):
        return _with(base, Kind.UNSUPPORTED)
    text = _text(data.get("message"))
    attachments = tuple(
        ref for ref in (_attachment(a) for a in _list(data.get("attachments"))) if ref is not None
    )
    if not text and not attachments:
        return _with(base, Kind.UNSUPPORTED)
    return _with(base, Kind.MESSAGE, text=text or None, attachments=attachments)


def _with(base: Envelope, kind: Kind, **fields: Any) -> Envelope:
    return Envelope(kind, base.sender, base.timestamp, base.received, **fields)


def _attachment(value: object) -> AttachmentRef | None:
    if not isinstance(value, Mapping):
        return None
    attachment_id = _text(value.get("id"))
    if not attachment_id:
        return None
    size = value.get("size")
    return AttachmentRef(
        attachment_id,
        _text(value.get("contentType")) or "application/octet-stream",
        size if isinstance(size, int) and not isinstance(size, bool) else None,
        _text(value.get("filename")),
    )


def _group(data: Mapping[str, Any]) -> str | None:
    info = data.get("groupInfo")
    if isinstance(info, Mapping):
        return _text(info.get("groupId")) or "?"
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
