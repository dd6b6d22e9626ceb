"""inbox: messages kept sealed before processing (the Signal channel)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:20:00.000000

signal-cli lets go of a message once it has written it to the bot's socket,
so the channel records each one here (sealed under the keyring) before any
other work; see `intake.storage.models.InboxMessage`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0008"
down_revision = "0006"  # TEMPORARY: "0007" once the branch adding 0007 lands on main
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("pseudonym_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_version", sa.Integer(), nullable=True),
        sa.Column("payload_ct", sa.LargeBinary(), nullable=True),
        sa.Column("answer_ct", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("channel", "digest", name=op.f("uq_inbox_channel")),
    )
    op.create_index("ix_inbox_channel_state", "inbox", ["channel", "state", "received_at"])
    op.create_index(op.f("ix_inbox_received_at"), "inbox", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_inbox_received_at"), table_name="inbox")
    op.drop_index("ix_inbox_channel_state", table_name="inbox")
    op.drop_table("inbox")
