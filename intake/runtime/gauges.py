"""What the database says, for `/metrics`, read at scrape time.

Only the plaintext columns the schema keeps for routing and ordering are
counted (mission, kind, status, channel, key versions, lease names): the
same figures anyone with the database already has, never content. Each
query is a grouped count on indexed columns; a scrape costs milliseconds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.runtime.metrics import Family, family, labels
from intake.storage import key_usage
from intake.storage.checkins import count_checkins
from intake.storage.counts import (
    count_cases_by_mission_kind_status,
    count_deliveries_by_channel,
    unreadable_queues,
)
from intake.storage.inbox import count_set_aside_by_channel
from intake.storage.leases import all_leases
from intake.storage.wrapped_keys import records_per_version


def database_families(session: Session, now: datetime) -> list[Family]:
    cases = {
        labels(mission=row.mission_id, kind=row.kind, status=row.status): row.count
        for row in count_cases_by_mission_kind_status(session)
    }
    deliveries = {
        labels(channel=row.channel): row.count for row in count_deliveries_by_channel(session)
    }
    records = {
        labels(version=version, table=table): count
        for version, tables in records_per_version(session).items()
        for table, count in tables.items()
    }
    encryptions = {
        labels(version=version): count for version, count in key_usage.encryptions(session).items()
    }
    leases = all_leases(session)
    unreadable = {
        labels(mission=queue.mission_id): queue.cases for queue in unreadable_queues(session)
    }
    set_aside = {
        labels(channel=channel): count
        for channel, count in count_set_aside_by_channel(session).items()
    }
    return [
        family(
            "unreadable_cases",
            "gauge",
            "Cases in a mission no active officer can open (enrol one; see keys status).",
            unreadable,
        ),
        family(
            "unreadable_inbox_messages",
            "gauge",
            "Kept messages set aside because they did not open, per channel (see keys verify).",
            set_aside,
        ),
        family("queue_cases", "gauge", "Cases per mission, kind and state.", cases),
        family(
            "checkins_running",
            "gauge",
            "Safety check-ins per mission and state (scheduled, prompted, missed).",
            {
                labels(mission=mission, state=state): count
                for (mission, state), count in count_checkins(session).items()
            },
        ),
        family(
            "deliveries_pending", "gauge", "Messages waiting to be sent, per channel.", deliveries
        ),
        family(
            "keyring_records",
            "gauge",
            "Records whose data key is wrapped under each KEK version (rewrap progress).",
            records,
        ),
        family(
            "kek_encryptions",
            "gauge",
            "Encryptions made under each KEK version (AES-GCM nonce budget: 2^32).",
            encryptions,
        ),
        family(
            "lease_expires_in_seconds",
            "gauge",
            "Seconds until each channel lease expires (negative: expired or released).",
            {
                labels(lease=lease.name): (lease.expires_at - now).total_seconds()
                for lease in leases
            },
        ),
    ]
