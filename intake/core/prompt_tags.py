"""Binding buttons to the question they answer: a per-prompt tag kept in the conversation.

A Telegram button's data used to be only the choice's value, so an old "Yes"
still in the chat answered whatever yes/no question came later (consent to
share with the UN, say). Every reply with choices now carries a tag: a code
of the step it asks (flow, step, what is pending) and a fresh random nonce,
kept (sealed) in the conversation record. A press whose tag is not the
current one is told "that question has passed" and changes nothing.

A conversation with no tag yet (a new one, or one destroyed and started
again) takes any press: its only question is the menu, which an old button
cannot answer wrongly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from typing import Any

from intake.messages import Inbound, Outbound, Reply

RECORD_KEY = "prompt"


def is_stale(record: dict[str, Any], message: Inbound) -> bool:
    """Whether a pressed button belongs to a question that has passed."""
    if message.choice is None or message.choice_tag is None:
        return False  # typed, or a channel that binds no buttons
    current = record.get(RECORD_KEY)
    return bool(current) and message.choice_tag != current


def bind(record: dict[str, Any], replies: Sequence[Outbound], renew: bool) -> list[Outbound]:
    """Tag the replies that offer choices; with `renew`, for a new question (new nonce)."""
    if not any(isinstance(reply, Reply) and reply.choices for reply in replies):
        return list(replies)
    if renew or not record.get(RECORD_KEY):
        record[RECORD_KEY] = f"{_step_code(record)}.{secrets.token_hex(4)}"
    tag = str(record[RECORD_KEY])
    return [
        dataclasses.replace(reply, tag=tag) if isinstance(reply, Reply) and reply.choices else reply
        for reply in replies
    ]


def _step_code(record: dict[str, Any]) -> str:
    flow = record.get("flow") or {}
    pending = flow.get("pending") or {}
    where = f"{flow.get('flow')}/{flow.get('step')}/{pending.get('kind')}"
    return hashlib.sha256(where.encode("utf-8")).hexdigest()[:4]
