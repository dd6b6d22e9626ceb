"""A conversation's encrypted record: the flow state, its cases, traces, reply target.

The record is one JSON document sealed under the conversation's data key
(wrapped under the keyring): who can decrypt it is the service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crypto import DataKey
from intake.messages import Outbound
from intake.storage.models import Conversation
from intake.storage.records import RecordCipher

RECORD_VERSION = 1


@dataclass
class Turn:
    """A conversation loaded for one message (or one officer action)."""

    conversation: Conversation
    dek: DataKey
    record: dict[str, Any]
    notices: list[Outbound] = field(default_factory=list)


def new_record(flow_state: dict[str, Any]) -> dict[str, Any]:
    # cases: references submitted here (for /status); trace: platform message
    # ids to delete; reply_to: the case whose officer the defender answers.
    return {"v": RECORD_VERSION, "flow": flow_state, "cases": [], "trace": [], "reply_to": None}


def open_turn(cipher: RecordCipher, conversation: Conversation) -> Turn:
    dek = cipher.open_key("conversation", conversation.id, conversation.dek_wrapped)
    record = cipher.open_json(dek, "conversation", conversation.id, "state", conversation.state_ct)
    record.setdefault("reply_to", None)
    return Turn(conversation, dek, record)


def save_turn(cipher: RecordCipher, turn: Turn) -> None:
    # Who can decrypt: the service (keyring). The draft lives here until submitted.
    turn.conversation.state_ct = cipher.seal_json(
        turn.dek, "conversation", turn.conversation.id, "state", turn.record
    )
