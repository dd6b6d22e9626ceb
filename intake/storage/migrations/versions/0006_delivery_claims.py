"""deliveries claimed until a time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 12:40:02.118034

A worker claiming a delivery marks it `claimed_until` a time, so another
worker does not send it too; existing rows start unclaimed (NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
