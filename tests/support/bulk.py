"""Many keyring-wrapped records, made cheaply: real data keys, real wraps, real ciphertexts.

Rows are inserted directly (no conversation is played), so rewrap and verify
tests and benchmarks can have tens of thousands of records in seconds. Each
record's data key is wrapped by the real `RecordCipher` and its fields are
sealed under it, so `keys verify` opens them as it would real ones.

Mix: of every 10 records, 7 conversations, 2 deliveries, 1 draft attachment
(of the conversation just made); plus a few channel state values.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from intake.storage.models import Attachment, ChannelState, Conversation, Delivery
from intake.storage.records import RecordCipher
from intake.storage.wrapped_keys import WRAPPED_TABLES

CHUNK = 5000


def _conversation(cipher: RecordCipher, now: datetime) -> dict[str, Any]:
    record_id = secrets.token_hex(16)
    dek, wrapped, version = cipher.new_key("conversation", record_id)
    return {
        "id": record_id,
        "channel": "telegram",
        "sender_pseudonym": secrets.token_hex(32),
        "pseudonym_version": 1,
        "dek_wrapped": wrapped,
        "kek_version": version,
        "chat_ct": cipher.seal(dek, "conversation", record_id, "chat", b"4242"),
        "state_ct": cipher.seal_json(
            dek, "conversation", record_id, "state", {"v": 1, "flow": {"lang": "en"}, "cases": []}
        ),
        "created_at": now,
        "last_seen_at": now,
    }


def _delivery(cipher: RecordCipher, now: datetime) -> dict[str, Any]:
    record_id = secrets.token_hex(16)
    dek, wrapped, version = cipher.new_key("delivery", record_id)
    body = {"chat": "4242", "text": "synthetic"}
    return {
        "id": record_id,
        "channel": "bulk",  # no channel claims these: they stay until the test ends
        "kind": "notify",
        "conversation_id": None,
        "dek_wrapped": wrapped,
        "kek_version": version,
        "body_ct": cipher.seal_json(dek, "delivery", record_id, "body", body),
        "attempts": 0,
        "created_at": now,
    }


def _attachment(cipher: RecordCipher, conversation_id: str, now: datetime) -> dict[str, Any]:
    record_id = secrets.token_hex(16)
    dek, wrapped, version = cipher.new_key("attachment", record_id)
    return {
        "id": record_id,
        "conversation_id": conversation_id,
        "case_id": None,
        "dek_wrapped": wrapped,
        "kek_version": version,
        "meta_ct": cipher.seal_json(dek, "attachment", record_id, "meta", {"media_type": "x"}),
        "data_ct": cipher.seal(dek, "attachment", record_id, "data", b"synthetic file"),
        "created_at": now,
    }


def _channel_state(cipher: RecordCipher, key: str, now: datetime) -> dict[str, Any]:
    record_id = f"bulk/{key}"
    dek, wrapped, version = cipher.new_key("channel_state", record_id)
    return {
        "channel": "bulk",
        "key": key,
        "dek_wrapped": wrapped,
        "kek_version": version,
        "value_ct": cipher.seal(dek, "channel_state", record_id, "value", b"cursor"),
        "updated_at": now,
    }


def insert_records(
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    count: int,
    now: datetime,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Insert `count` keyring-wrapped records (and 3 channel state values) in chunks."""
    made = 0
    with sessions.begin() as session:
        session.execute(
            insert(ChannelState), [_channel_state(cipher, f"k{n}", now) for n in range(3)]
        )
    while made < count:
        rows: dict[type, list[dict[str, Any]]] = {Conversation: [], Delivery: [], Attachment: []}
        size = min(CHUNK, count - made)
        for n in range(made, made + size):
            slot = n % 10
            if slot < 7:
                rows[Conversation].append(_conversation(cipher, now))
            elif slot < 9:
                rows[Delivery].append(_delivery(cipher, now))
            else:
                parent = rows[Conversation][-1]["id"] if rows[Conversation] else None
                if parent is None:
                    rows[Conversation].append(_conversation(cipher, now))
                else:
                    rows[Attachment].append(_attachment(cipher, parent, now))
        with sessions.begin() as session:
            for model in (Conversation, Delivery, Attachment):
                if rows[model]:
                    session.execute(insert(model), rows[model])
        made += size
        if on_chunk is not None:
            on_chunk(made)


def wrapped_counts(session: Session) -> dict[str, int]:
    """Table -> rows holding a keyring-wrapped key."""
    return {
        spec.name: int(
            session.scalar(
                select(func.count())
                .select_from(spec.table)
                .where(spec.table.c.dek_wrapped.is_not(None))
            )
            or 0
        )
        for spec in WRAPPED_TABLES
    }
