"""channel items: the Matrix encryption store in the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:10:00.000000

nio's file store kept defenders' Matrix ids, device ids and room ids in
plaintext on the bot's disk. Its items now live here: looked up by keyed
pseudonym, sealed under the keyring. The table starts empty; the channel
moves a legacy file store into it once, at its next start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_items",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("pseudonym_version", sa.Integer(), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("value_ct", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "kind", "item", name=op.f("pk_channel_items")),
    )
    with op.batch_alter_table("channel_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_items_kek_version"), ["kek_version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_items_kek_version"))
    op.drop_table("channel_items")
