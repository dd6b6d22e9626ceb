"""key usage counters and officer key age

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 11:56:11.271111

Seeds `key_usage` from the rows on each KEK version at upgrade time: wraps
made before (rows since deleted, rewrapped or sealed) were never counted, so
this is a lower bound; the service counts every wrap from here on. Existing
officers' key pairs date from their enrolment.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WRAPPED_TABLES = ("conversations", "cases", "attachments", "deliveries", "channel_state")


def upgrade() -> None:
    key_usage = op.create_table(
        "key_usage",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("encryptions", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "version", name=op.f("pk_key_usage")),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_created_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE officers SET key_created_at = created_at")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.alter_column("key_created_at", existing_type=UTCDateTime(), nullable=False)

    connection = op.get_bind()
    counts: dict[int, int] = {}
    for table in _WRAPPED_TABLES:
        rows = connection.execute(
            sa.text(
                f"SELECT kek_version, count(*) FROM {table} "  # noqa: S608 - fixed table names
                "WHERE kek_version IS NOT NULL GROUP BY kek_version"
            )
        )
        for version, count in rows:
            counts[int(version)] = counts.get(int(version), 0) + int(count)
    if counts:
        now = datetime.now(UTC)
        op.bulk_insert(
            key_usage,
            [
                {"kind": "kek", "version": v, "encryptions": n, "updated_at": now}
                for v, n in sorted(counts.items())
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_column("key_created_at")
    op.drop_table("key_usage")
