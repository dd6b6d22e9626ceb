"""Forward secrecy of the chat: forgetting a room's Megolm keys for what was already read.

The homeserver keeps every encrypted event (redacted ones too, for its
`redaction_retention_period`), so an encryption store holding the room keys
would, with the server's copy, decrypt the whole conversation later. After
a submission, `/delete` and the duress word (every `WipeChat`), the bot

- ratchets each of the defender's inbound Megolm sessions of the room
  forward past the last message it decrypted (an exported session at a
  later index cannot go back: Megolm's ratchet is one-way), so earlier
  events no longer decrypt while the defender's next messages still do;
- deletes its own inbound copy of its outbound session, and discards the
  outbound session itself, so its next message starts a new one.

`note_decrypted` records, per session, the index after the last message
decrypted; it is kept in the database store so a restart in between
forgets no less.
"""

from __future__ import annotations

import logging
from typing import Any

from nio.crypto import InboundGroupSession  # type: ignore[import-untyped]

from bots.matrix.store import DatabaseStore

__all__ = ["forget_room_keys", "note_decrypted"]

log = logging.getLogger(__name__)

def note_decrypted(client: Any, room_id: str, event: Any) -> None:
    """Remember that `event` (decrypted from Megolm, index kept by the client) was read."""
    store = getattr(client, "store", None)
    index = getattr(event, "megolm_index", None)
    if not isinstance(index, int) or not isinstance(store, DatabaseStore):
        return
    store.note_read(room_id, str(event.sender_key), str(event.session_id), index + 1)


def forget_room_keys(client: Any, room_id: str) -> int:
    """Ratchet the room's inbound sessions past what was read; drop our own. Returns
    how many sessions were changed or removed."""
    olm, store = client.olm, client.store
    if olm is None or not isinstance(store, DatabaseStore):
        return 0
    own_key = olm.account.identity_keys["curve25519"]
    changed = 0
    by_sender = olm.inbound_group_store[room_id]
    for sender_key, sessions in list(by_sender.items()):
        for session_id, session in list(sessions.items()):
            if sender_key == own_key:
                del sessions[session_id]
                store.delete_inbound_group_session(session)
                changed += 1
                continue
            read_up_to = store.read_up_to(room_id, sender_key, session_id)
            if read_up_to <= session.first_known_index:
                continue
            # Who can decrypt with the result: whoever holds the store, and
            # only messages from `read_up_to` on.
            ratcheted = InboundGroupSession.import_session(
                session.export_session(read_up_to),
                session.ed25519,
                sender_key,
                room_id,
                list(session.forwarding_chain),
            )
            sessions[session_id] = ratcheted
            store.save_inbound_group_session(ratcheted)
            changed += 1
    client.invalidate_outbound_session(room_id)
    log.info("room keys forgotten for what was read", extra={"channel": "matrix", "count": changed})
    return changed
