"""Grouped counts of plaintext columns, for `/metrics` and reports.

Only what the schema keeps in the clear for routing and ordering (mission,
kind, status, channel): the same figures anyone with the database already has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from intake.storage.models import (
    Case,
    ChannelItem,
    Conversation,
    Delivery,
    InboxMessage,
    KeySeal,
    MissionKey,
    Officer,
    ProcessedMessage,
)


@dataclass(frozen=True, slots=True)
class QueueCount:
    """How many cases one mission holds of one kind in one state."""

    mission_id: str
    kind: str
    status: str
    count: int


@dataclass(frozen=True, slots=True)
class ChannelCount:
    """How many deliveries wait for one channel."""

    channel: str
    count: int


def count_cases_by_mission_kind_status(session: Session) -> list[QueueCount]:
    """Cases grouped by (mission, kind, status); groups with none are absent."""
    rows = session.execute(
        select(Case.mission_id, Case.kind, Case.status, func.count()).group_by(
            Case.mission_id, Case.kind, Case.status
        )
    )
    return [QueueCount(mission, kind, status, int(count)) for mission, kind, status, count in rows]


def count_deliveries_by_channel(session: Session) -> list[ChannelCount]:
    """Pending deliveries grouped by channel; channels with none are absent."""
    rows = session.execute(select(Delivery.channel, func.count()).group_by(Delivery.channel))
    return [ChannelCount(channel, int(count)) for channel, count in rows]


def count_pseudonym_records_by_version(session: Session) -> dict[int, dict[str, int]]:
    """Pseudonym key version -> what is found by it: conversations, channel store items,
    inbox messages (tables and versions with none absent). What `keys retire` waits for,
    but the processed-message digests, which go by age (`processed_message_days`)."""
    found: dict[int, dict[str, int]] = {}
    for name, model in (
        ("conversations", Conversation),
        ("channel_items", ChannelItem),
        ("inbox", InboxMessage),
    ):
        rows = session.execute(
            select(model.pseudonym_version, func.count()).group_by(model.pseudonym_version)
        )
        for version, count in rows:
            found.setdefault(int(version), {})[name] = int(count)
    return found


def count_conversations_on_pseudonym_version(session: Session, version: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.pseudonym_version == version)
        )
        or 0
    )


def count_channel_items_on_pseudonym_version(session: Session, version: int) -> int:
    """Items of channels' encryption stores found by this pseudonym key version."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ChannelItem)
            .where(ChannelItem.pseudonym_version == version)
        )
        or 0
    )


def count_inbox_on_pseudonym_version(session: Session, version: int) -> int:
    """Inbox messages (any state, until purged) whose digest is under this pseudonym key version."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(InboxMessage)
            .where(InboxMessage.pseudonym_version == version)
        )
        or 0
    )


def count_processed_messages_before(session: Session, cutoff: datetime) -> int:
    """Digests of platform messages received before `cutoff`."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ProcessedMessage)
            .where(ProcessedMessage.received_at < cutoff)
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class UnreadableQueue:
    """A mission holding `cases` cases no active officer can open.

    A case is readable by an officer when its key is sealed to a version of its
    mission's key that an active officer holds a copy of; `has_key` tells whether
    the mission has a key at all (without one, its cases went to the recovery key only).
    """

    mission_id: str
    cases: int
    has_key: bool


def unreadable_queues(session: Session) -> list[UnreadableQueue]:
    """Missions holding cases no active officer can open, by id (any state, until purged)."""
    case_seal = aliased(KeySeal)
    key_seal = aliased(KeySeal)
    readable = (
        select(case_seal.record_id)
        .join(
            key_seal,
            (key_seal.record_type == "mission_key")
            & (
                key_seal.record_id
                == Case.mission_id + literal("/") + cast(case_seal.recipient_version, String)
            ),
        )
        .join(Officer, key_seal.recipient == literal("officer:") + Officer.id)
        .where(
            case_seal.record_type == "case",
            case_seal.record_id == Case.id,
            case_seal.recipient == literal("mission:") + Case.mission_id,
            Officer.status == "active",
        )
    )
    rows = session.execute(
        select(Case.mission_id, func.count())
        .where(~exists(readable))
        .group_by(Case.mission_id)
        .order_by(Case.mission_id)
    )
    keyed = set(session.scalars(select(MissionKey.mission_id).distinct()))
    return [
        UnreadableQueue(mission_id, int(count), mission_id in keyed) for mission_id, count in rows
    ]
