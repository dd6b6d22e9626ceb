"""What a Matrix event means to the intake, and how replies look: no I/O here.

`classify` reads one timeline event (already decrypted by nio where it could
be) and says what the channel should do with it; `render` turns the core's
replies into a message body; `encode_trace`/`decode_trace` name an event with
its room, so a later `WipeChat` knows where to redact it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NewType

from intake.messages import Outbound, Reply, WipeChat

RoomId = NewType("RoomId", str)
UserId = NewType("UserId", str)
EventId = NewType("EventId", str)


@dataclass(frozen=True)
class Ignore:
    """Not a message for the conversation (state, reaction, redaction, receipt...)."""

    why: str


@dataclass(frozen=True)
class Plaintext:
    """A message sent without end-to-end encryption: never fed to the conversation."""


@dataclass(frozen=True)
class Undecrypted:
    """An encrypted event nio could not decrypt yet (its room key may come later)."""


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Unsupported:
    reason: Literal["unsupported", "edited"]


@dataclass(frozen=True)
class Media:
    """An encrypted file (m.image, m.file): where it is and how to decrypt it."""

    url: str
    key: str
    sha256: str
    iv: str
    media_type: str
    name: str | None
    declared_size: int | None


Meaning = Ignore | Plaintext | Undecrypted | Text | Unsupported | Media

# msgtype of a decrypted m.room.message -> what it is. Anything not listed
# (m.audio, m.video, m.location, m.emote, custom types) is unsupported.
_MSGTYPES = {"m.text": "text", "m.image": "media", "m.file": "media"}


def classify(source: dict[str, Any], decrypted: bool, undecrypted: bool) -> Meaning:
    """What one timeline event from the defender asks of the channel.

    Args:
        source: the event as a dict (for a decrypted event, the decrypted payload).
        decrypted: nio decrypted it (it came as m.room.encrypted).
        undecrypted: it is still an m.room.encrypted event nio could not open.
    """
    if undecrypted:
        return Undecrypted()
    if "state_key" in source:
        return Ignore("state")
    event_type = source.get("type")
    if event_type not in ("m.room.message", "m.sticker"):
        return Ignore("not a message")
    if not decrypted:
        return Plaintext()
    if event_type == "m.sticker":
        return Unsupported("unsupported")
    content = source.get("content")
    if not isinstance(content, dict) or not content:
        return Ignore("redacted")
    relation = content.get("m.relates_to")
    if isinstance(relation, dict) and relation.get("rel_type") == "m.replace":
        return Unsupported("edited")
    kind = _MSGTYPES.get(str(content.get("msgtype")))
    if kind == "text":
        body = content.get("body")
        if not isinstance(body, str):
            return Unsupported("unsupported")
        return Text(strip_reply_fallback(body))
    if kind == "media":
        return _media(content)
    return Unsupported("unsupported")


def _media(content: dict[str, Any]) -> Meaning:
    file = content.get("file")
    if not isinstance(file, dict):
        # An unencrypted upload inside an encrypted room: the file itself sits
        # in the clear on the server. Refuse it like other unreadable content.
        return Unsupported("unsupported")
    try:
        url = str(file["url"])
        key = str(file["key"]["k"])
        sha256 = str(file["hashes"]["sha256"])
        iv = str(file["iv"])
    except (KeyError, TypeError):
        return Unsupported("unsupported")
    raw_info = content.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    size = info.get("size")
    body = content.get("filename") or content.get("body")
    return Media(
        url=url,
        key=key,
        sha256=sha256,
        iv=iv,
        media_type=str(info.get("mimetype") or file.get("mimetype") or "application/octet-stream"),
        name=body if isinstance(body, str) and body else None,
        declared_size=size if isinstance(size, int) and size >= 0 else None,
    )


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@user> ..." block older clients put before a reply."""
    if not body.startswith("> "):
        return body
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        return "\n".join(lines[index + 1 :])
    return body


def render(replies: list[Reply]) -> str:
    """One message body for consecutive replies; choices as a numbered list.

    The defender answers with the number (or the words); the engine reads
    numbers against the same order.
    """
    parts = []
    for reply in replies:
        lines = [reply.text]
        lines.extend(
            f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, start=1)
        )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Send:
    """Send one message (the text of consecutive replies)."""

    body: str = field(repr=False)


@dataclass(frozen=True)
class Redact:
    """Redact these events (trace ids)."""

    traces: tuple[str, ...] = field(repr=False)


Step = Send | Redact


def plan(outbounds: list[Outbound]) -> list[Step]:
    """What to do in the room for the core's answer, in order."""
    steps: list[Step] = []
    replies: list[Reply] = []
    for outbound in outbounds:
        if isinstance(outbound, WipeChat):
            if replies:
                steps.append(Send(render(replies)))
                replies = []
            steps.append(Redact(tuple(outbound.message_ids)))
        else:
            replies.append(outbound)
    if replies:
        steps.append(Send(render(replies)))
    return steps


def steps_to_json(steps: list[Step]) -> list[dict[str, Any]]:
    return [
        {"send": step.body} if isinstance(step, Send) else {"redact": list(step.traces)}
        for step in steps
    ]


def steps_from_json(items: list[dict[str, Any]]) -> list[Step]:
    return [
        Send(str(item["send"])) if "send" in item else Redact(tuple(item["redact"]))
        for item in items
    ]


def message_content(body: str, msgtype: str = "m.text") -> dict[str, Any]:
    """A message's content: `m.text` for the conversation, `m.notice` for notifications."""
    return {"msgtype": msgtype, "body": body}


def encode_trace(room_id: RoomId, event_id: EventId) -> str:
    """A trace id the core keeps (encrypted) and hands back in `WipeChat`."""
    return json.dumps([room_id, event_id], separators=(",", ":"))


def decode_trace(trace: str) -> tuple[RoomId, EventId] | None:
    """The room and event of a trace id; None if it is not one of ours."""
    try:
        room_id, event_id = json.loads(trace)
    except (ValueError, TypeError):
        return None
    if not isinstance(room_id, str) or not isinstance(event_id, str):
        return None
    return RoomId(room_id), EventId(event_id)
