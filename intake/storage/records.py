"""Encrypted fields of our records, under the server keyring.

Every record (conversation, case, attachment) has its own data key, wrapped
under the keyring's primary KEK; each field is sealed with associated data
naming the record type, the record id and the field, so a ciphertext moved
to another row or column fails to open. Who can decrypt: the service, with
the keyring file and its passphrase. (Submitted cases get sealed to mission
keys by the triage layer; until then the keyring opens them.)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from crypto import (
    Binding,
    DataKey,
    Keyring,
    KeyVersion,
    new_data_key,
    open_field,
    pseudonym,
    pseudonym_candidates,
    rewrap_data_key,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
    wrap_draft_key,
    wrapped_key_version,
)
from intake.storage.key_usage import UsageCounter


def new_record_id() -> str:
    """128 random bits, hex: ids reveal no order or count."""
    return secrets.token_hex(16)


class RecordCipher:
    """Seals and opens record fields with keys from the current keyring.

    Args:
        keyring: returns the keyring to use now (the holder may reload it
            after a rotation without a restart).
        usage: notes every wrap per KEK version (see `intake.storage.key_usage`);
            `intake.core.desks.build_cipher` ties it to the session factory.
    """

    def __init__(self, keyring: Callable[[], Keyring], usage: UsageCounter | None = None) -> None:
        self._keyring = keyring
        self.usage = usage or UsageCounter()

    def keyring(self) -> Keyring:
        """The keyring in use now."""
        return self._keyring()

    @property
    def keyring_source(self) -> Callable[[], Keyring]:
        """What this cipher gets its keyring from (the composition root inspects it)."""
        return self._keyring
    def fresh_keyring(self) -> Keyring:
        """The keyring as its file holds it this instant (when the holder can reload)."""
        refresh = getattr(self._keyring, "refresh", None)
        return refresh() if callable(refresh) else self._keyring()

    def new_key(self, record_type: str, record_id: str) -> tuple[DataKey, bytes, KeyVersion]:
        """A fresh data key, its wrapped form and the KEK version that wraps it."""
        dek = new_data_key()
        # Who can decrypt: whoever holds the keyring (the service).
        wrapped = wrap_data_key(self._keyring(), dek, record_type, record_id)
        version = wrapped_key_version(wrapped)
        self.usage.note(version)
        return dek, wrapped, version

    def new_draft_key(self, record_type: str, record_id: str) -> tuple[DataKey, bytes, KeyVersion]:
        """A fresh data key for a draft, wrapped under the current draft epoch (and that epoch)."""
        dek = new_data_key()
        wrapped, epoch = self.wrap_draft(dek, record_type, record_id)
        return dek, wrapped, epoch

    def wrap_draft(
        self, dek: DataKey, record_type: str, record_id: str
    ) -> tuple[bytes, KeyVersion]:
        """A draft's data key wrapped under the current draft epoch, and that epoch.

        Raises:
            crypto.KeyNotFound: the keyring has no draft epoch yet.
        """
        keyring = self._keyring()
        # Who can decrypt: whoever holds the keyring, until this epoch's key is
        # destroyed (draft idle time plus one epoch after the epoch ends).
        return wrap_draft_key(keyring, dek, record_type, record_id), keyring.primary("draft")

    def rewrap_key(
        self, record_type: str, record_id: str, wrapped: bytes
    ) -> tuple[bytes, KeyVersion]:
        """The same data key wrapped under the primary KEK (unchanged if it already is).

        Raises:
            The errors of `crypto.unwrap_data_key`.
        """
        keyring = self._keyring()
        # Who can decrypt the result: whoever holds the keyring, as before.
        rewrapped = rewrap_data_key(keyring, wrapped, record_type, record_id)
        version = wrapped_key_version(rewrapped)
        if rewrapped != wrapped:
            self.usage.note(version)
        return rewrapped, version

    def open_key(self, record_type: str, record_id: str, wrapped: bytes) -> DataKey:
        return unwrap_data_key(self._keyring(), wrapped, record_type, record_id)

    @staticmethod
    def seal(dek: DataKey, record_type: str, record_id: str, field: str, data: bytes) -> bytes:
        return seal_field(dek, data, Binding(record_type, record_id, field))

    @staticmethod
    def open(dek: DataKey, record_type: str, record_id: str, field: str, blob: bytes) -> bytes:
        return open_field(dek, blob, Binding(record_type, record_id, field))

    def seal_json(
        self, dek: DataKey, record_type: str, record_id: str, field: str, value: Any
    ) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self.seal(dek, record_type, record_id, field, data)

    def open_json(
        self, dek: DataKey, record_type: str, record_id: str, field: str, blob: bytes
    ) -> Any:
        return json.loads(self.open(dek, record_type, record_id, field, blob))

    def pseudonym(self, namespace: str, value: str) -> tuple[KeyVersion, str]:
        return pseudonym(self._keyring(), namespace, value)

    def pseudonym_candidates(self, namespace: str, value: str) -> list[tuple[KeyVersion, str]]:
        return pseudonym_candidates(self._keyring(), namespace, value)
