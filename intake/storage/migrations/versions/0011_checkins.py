"""safety check-ins

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01 12:40:00.000000

One row per running check-in (a defender asked to be checked on). The due
time, state, mode, interval and mission are plaintext (the scheduler and the
officers' view need them); where the defender went and whom to alert are
sealed to the mission; the words exist only as keyed Argon2id digests. No
existing data changes. (down_revision 0006 for now: 0007-0010 land on other
branches and the integrator re-chains.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0011"
down_revision = "0009"  # the chain: ... 0008, 0009, 0011, 0012, 0010 (the head)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("mission_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("word_salt", sa.LargeBinary(), nullable=False),
        sa.Column("word_params", sa.JSON(), nullable=False),
        sa.Column("word_digest", sa.LargeBinary(), nullable=False),
        sa.Column("duress_digest", sa.LargeBinary(), nullable=False),
        sa.Column("dek_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("link_ct", sa.LargeBinary(), nullable=False),
        sa.Column("case_payload_ct", sa.LargeBinary(), nullable=False),
        sa.Column("case_seals", sa.LargeBinary(), nullable=False),
        sa.Column("case_dek_wrapped", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_checkins_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"], ["missions.id"], name=op.f("fk_checkins_mission_id_missions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_checkins_conversation_id")),
    )
    op.create_index(op.f("ix_checkins_due_at"), "checkins", ["due_at"], unique=False)
    op.create_index(op.f("ix_checkins_kek_version"), "checkins", ["kek_version"], unique=False)
    op.create_index(op.f("ix_checkins_mission_id"), "checkins", ["mission_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_checkins_mission_id"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_kek_version"), table_name="checkins")
    op.drop_index(op.f("ix_checkins_due_at"), table_name="checkins")
    op.drop_table("checkins")
