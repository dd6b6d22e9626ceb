"""ORM models.

What is plaintext here is only what routing and queue ordering need
(mission, kind, urgency, status, times, case reference). Everything a
defender wrote, their platform identity, chat and contact handle are in
`*_ct` columns (envelope ciphertext, see `crypto.envelope`); platform
identities are found by keyed pseudonym, never stored raw. `dek_wrapped`
is the record's data key wrapped under a keyring version (`kek_version`,
kept as a column so rotation can find the rows still on an old version).
"""

from intake.storage.models.checkins import Checkin
from intake.storage.models.core import (
    NAMING,
    Attachment,
    AuditEntry,
    Base,
    Case,
    CaseEvent,
    ChannelItem,
    ChannelState,
    Conversation,
    Delivery,
    DuressMark,
    KeySeal,
    KeyUsage,
    Lease,
    Mission,
    MissionKey,
    Officer,
    ProcessedMessage,
    RecoveryKey,
)
from intake.storage.models.inbox import InboxMessage
from intake.storage.models.web import WebEnrolment, WebFactor, WebLockout

__all__ = [
    "NAMING",
    "Attachment",
    "AuditEntry",
    "Base",
    "Case",
    "CaseEvent",
    "ChannelItem",
    "ChannelState",
    "Checkin",
    "Conversation",
    "Delivery",
    "DuressMark",
    "InboxMessage",
    "KeySeal",
    "KeyUsage",
    "Lease",
    "Mission",
    "MissionKey",
    "Officer",
    "ProcessedMessage",
    "RecoveryKey",
    "WebEnrolment",
    "WebFactor",
    "WebLockout",
]
