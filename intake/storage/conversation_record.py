"""A conversation's encrypted record: the flow state, traces, the one reply it awaits.

The record is one JSON document sealed under the conversation's data key,
which is wrapped under the keyring's current draft-epoch key and re-wrapped
at every save: who can decrypt it is the service, until that epoch's key is
destroyed (see `intake.keys.draft_epochs`). It keeps no list of the
defender's cases: keyring plus database must not map a chat to its reports.
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
    # The platform sender of the message being handled (never stored as such:
    # only sealed into a submitted case's return address, for its officers).
    sender: str | None = None
    # Set when the record was destroyed (/delete, duress): nothing to save.
    destroyed: bool = False


def new_record(flow_state: dict[str, Any]) -> dict[str, Any]:
    # trace: platform message ids to delete; reply_to: the one case whose
    # officer's reply waits for the defender's answer (forgotten once answered).
    return {"v": RECORD_VERSION, "flow": flow_state, "trace": [], "reply_to": None}


def open_turn(cipher: RecordCipher, conversation: Conversation) -> Turn:
    """Open a conversation's record.

    Raises:
        crypto.KeyNotFound: its draft-epoch key was destroyed (the draft expired).
        crypto.CryptoError: any other failure to open it.
    """
    dek = cipher.open_key("conversation", conversation.id, conversation.dek_wrapped)
    record = cipher.open_json(dek, "conversation", conversation.id, "state", conversation.state_ct)
    record.setdefault("reply_to", None)
    # Records from before: the list of the defender's cases is not kept any more.
    record.pop("cases", None)
    return Turn(conversation, dek, record)


def save_turn(cipher: RecordCipher, turn: Turn) -> None:
    """Seal the record and re-wrap its data key under the current draft epoch."""
    conversation = turn.conversation
    # Who can decrypt: the service (keyring) until this epoch's key is destroyed.
    conversation.state_ct = cipher.seal_json(
        turn.dek, "conversation", conversation.id, "state", turn.record
    )
    conversation.dek_wrapped, epoch = cipher.wrap_draft(turn.dek, "conversation", conversation.id)
    conversation.draft_epoch = epoch
    conversation.kek_version = None
