"""drafts wrapped under draft-epoch keys; duress marks

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-01 12:30:00.000000

A conversation's and a draft file's data key is wrapped under a draft-epoch
key of the keyring (`draft_epoch` names its version) instead of a KEK, so
`kek_version` is NULL for them and rewrap/retire of KEKs leaves them alone.
Existing rows keep their KEK wrap until their next step re-wraps them.

`duress_marks` remembers, by keyed pseudonym only, a sender who typed the
duress word (no case, no conversation).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0012"
# main's head when merged (0007 matrix, 0009 web, 0010 key directory and 0011
# check-ins are numbered by branches not yet on main): chain it after the last.
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column("kek_version", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("draft_epoch", sa.Integer(), nullable=True))
        batch_op.create_index("ix_conversations_draft_epoch", ["draft_epoch"], unique=False)
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_epoch", sa.Integer(), nullable=True))
        batch_op.create_index("ix_attachments_draft_epoch", ["draft_epoch"], unique=False)
    op.create_table(
        "duress_marks",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "sender_pseudonym", name=op.f("pk_duress_marks")),
    )
    op.create_index(op.f("ix_duress_marks_marked_at"), "duress_marks", ["marked_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_duress_marks_marked_at"), table_name="duress_marks")
    op.drop_table("duress_marks")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_attachments_draft_epoch")
        batch_op.drop_column("draft_epoch")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_draft_epoch")
        batch_op.drop_column("draft_epoch")
        batch_op.alter_column("kek_version", existing_type=sa.Integer(), nullable=False)
