"""Encrypted key-value state of the channels (Matrix access token, sync token...).

Channels know no SQL and no key: they get a `ChannelStateStore` bound to
their name. Each value is its own record with its own data key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from intake.storage.models import ChannelState
from intake.storage.records import RecordCipher


class ChannelBoundStore:
    """A store bound to one channel, sealing what it keeps under the keyring.

    Args:
        channel: the channel's name ("matrix", "telegram", "signal").
        sessions: opens database sessions.
        cipher: seals values (and makes pseudonyms) under the keyring; who can
            decrypt: the service.
        clock: returns the current aware UTC time.
    """

    def __init__(
        self,
        channel: str,
        sessions: sessionmaker[Session],
        cipher: RecordCipher,
        clock: Callable[[], datetime],
    ) -> None:
        self._channel = channel
        self._sessions = sessions
        self._cipher = cipher
        self._clock = clock


class ChannelStateStore(ChannelBoundStore):
    """Read and write one channel's state values (bytes), each in its own transaction."""

    def _record_id(self, key: str) -> str:
        return f"{self._channel}/{key}"

    def get(self, key: str) -> bytes | None:
        with self._sessions() as session:
            row = session.get(ChannelState, (self._channel, key))
            if row is None:
                return None
            record_id = self._record_id(key)
            dek = self._cipher.open_key("channel_state", record_id, row.dek_wrapped)
            return self._cipher.open(dek, "channel_state", record_id, "value", row.value_ct)

    def put(self, key: str, value: bytes) -> None:
        """Store `value` durably (committed when this returns)."""
        record_id = self._record_id(key)
        with self._sessions.begin() as session:
            row = session.get(ChannelState, (self._channel, key))
            dek, wrapped, version = self._cipher.new_key("channel_state", record_id)
            value_ct = self._cipher.seal(dek, "channel_state", record_id, "value", value)
            if row is None:
                row = ChannelState(channel=self._channel, key=key)
                session.add(row)
            row.dek_wrapped = wrapped
            row.kek_version = version
            row.value_ct = value_ct
            row.updated_at = self._clock()

    def delete(self, key: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(ChannelState, (self._channel, key))
            if row is not None:
                session.delete(row)
