"""A channel's encryption store, item by item, sealed in the database.

Channels know no SQL and no key: the Matrix channel gets a `ChannelItemStore`
bound to its name and keeps nio's Olm account, sessions, room keys and
device list in it (`bots.matrix.store`). Who can decrypt: the service, with
the keyring. At rest each item is

- `kind` in the clear (account, olm_session, group_session, device...);
- `item`: a keyed pseudonym (HMAC under the keyring's pseudonym key) of the
  item's key, which names users, devices and rooms;
- `value_ct`: the key and the value together, sealed under the item's own
  data key with associated data naming channel, kind and pseudonym, so a row
  copied to another place fails to open.

Writes are durable when a method returns (one transaction per call).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from intake.storage.channel_state import ChannelBoundStore
from intake.storage.models import ChannelItem

__all__ = ["RECORD_TYPE", "ChannelItemStore"]

RECORD_TYPE = "channel_item"
_LENGTH = struct.Struct(">I")


def _pack(key: str, value: bytes) -> bytes:
    raw = key.encode("utf-8")
    return _LENGTH.pack(len(raw)) + raw + value


def _unpack(blob: bytes) -> tuple[str, bytes]:
    (length,) = _LENGTH.unpack_from(blob)
    start = _LENGTH.size
    return blob[start : start + length].decode("utf-8"), blob[start + length :]


class ChannelItemStore(ChannelBoundStore):
    """Load, put and delete one channel's items (see the module docstring)."""

    def _namespace(self, kind: str) -> str:
        return f"channel-item:{self._channel}:{kind}"

    def _record_id(self, kind: str, item: str) -> str:
        return f"{self._channel}/{kind}/{item}"

    def load(self) -> dict[str, dict[str, bytes]]:
        """Every item: kind -> {key: value}.

        Items still under an older pseudonym key version (after `keys rotate
        --kind pseudonym`) are moved to the primary one here, so that version
        can be retired and a later delete finds them.
        """
        found: dict[str, dict[str, bytes]] = {}
        stale: dict[str, dict[str, bytes]] = {}
        with self._sessions() as session:
            rows = session.scalars(
                select(ChannelItem)
                .where(ChannelItem.channel == self._channel)
                .order_by(ChannelItem.updated_at)
            )
            for row in rows:
                record_id = self._record_id(row.kind, row.item)
                dek = self._cipher.open_key(RECORD_TYPE, record_id, row.dek_wrapped)
                blob = self._cipher.open(dek, RECORD_TYPE, record_id, "value", row.value_ct)
                key, value = _unpack(blob)
                found.setdefault(row.kind, {})[key] = value
                primary, _ = self._cipher.pseudonym(self._namespace(row.kind), key)
                if row.pseudonym_version != primary:
                    stale.setdefault(row.kind, {})[key] = value
        for kind, items in stale.items():
            self.put_many(kind, {key: found[kind][key] for key in items})
        return found

    def _drop(self, session: Session, kind: str, key: str) -> None:
        """Delete the item under every pseudonym version it may still have."""
        digests = [digest for _, digest in self._cipher.pseudonym_candidates(
            self._namespace(kind), key
        )]
        session.execute(
            delete(ChannelItem).where(
                ChannelItem.channel == self._channel,
                ChannelItem.kind == kind,
                ChannelItem.item.in_(digests),
            )
        )

    def put_many(self, kind: str, items: Mapping[str, bytes]) -> None:
        """Store these items of one kind (replacing any with the same key), durably."""
        if not items:
            return
        now = self._clock()
        with self._sessions.begin() as session:
            for key, value in items.items():
                self._drop(session, kind, key)
                version, digest = self._cipher.pseudonym(self._namespace(kind), key)
                record_id = self._record_id(kind, digest)
                dek, wrapped, kek_version = self._cipher.new_key(RECORD_TYPE, record_id)
                sealed = self._cipher.seal(dek, RECORD_TYPE, record_id, "value", _pack(key, value))
                session.add(
                    ChannelItem(
                        channel=self._channel,
                        kind=kind,
                        item=digest,
                        pseudonym_version=version,
                        dek_wrapped=wrapped,
                        kek_version=kek_version,
                        value_ct=sealed,
                        updated_at=now,
                    )
                )

    def put(self, kind: str, key: str, value: bytes) -> None:
        self.put_many(kind, {key: value})

    def delete(self, kind: str, key: str) -> None:
        with self._sessions.begin() as session:
            self._drop(session, kind, key)

    def clear(self) -> None:
        """Forget every item of the channel (a new device starts an empty store)."""
        with self._sessions.begin() as session:
            session.execute(delete(ChannelItem).where(ChannelItem.channel == self._channel))
