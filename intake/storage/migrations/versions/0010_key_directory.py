"""authenticated key directory: a MAC on every mission and officer public-key row

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 12:50:00.000000

Each `mission_keys` and `officers` row gets `key_mac`, an HMAC under a key
the keyring derives (see `intake.keys.directory`). The migration cannot
compute it (it has no keyring): existing rows start NULL, which sealing
refuses, until security staff run `hrd-intake keys authenticate` with the
keyring (it also pins the recovery key's fingerprint in the keyring).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0012"  # revisions landed out of order: 0009, 0011, 0012, then this one
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("mission_keys", "officers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("key_mac", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table in ("mission_keys", "officers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("key_mac")
