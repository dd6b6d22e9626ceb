"""officers' web console: second factors, enrolment codes, lockouts; case country and answers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:40:00.000000

`cases.country` (the routed ISO country code, a routing fact) lets the queue filter and
the statistics count by country; existing cases keep NULL (their country is sealed).
`cases.answered_at` marks a defender's answer no officer has replied to yet. The web
tables hold no plaintext secret: TOTP secrets and WebAuthn credentials are sealed to the
officer's key, enrolment codes are kept as hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from intake.storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("answered_at", UTCDateTime(), nullable=True))
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "seq"])
    op.create_table(
        "web_factors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("credential_id", sa.String(length=400), nullable=True),
        sa.Column("secret_ct", sa.LargeBinary(), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_web_factors_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_factors")),
    )
    op.create_index(op.f("ix_web_factors_officer_id"), "web_factors", ["officer_id"])
    op.create_table(
        "web_enrolments",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_web_enrolments_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_web_enrolments")),
    )
    op.create_table(
        "web_lockouts",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_web_lockouts_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_web_lockouts")),
    )


def downgrade() -> None:
    op.drop_table("web_lockouts")
    op.drop_table("web_enrolments")
    op.drop_index(op.f("ix_web_factors_officer_id"), table_name="web_factors")
    op.drop_table("web_factors")
    op.drop_index("ix_audit_log_subject", table_name="audit_log")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("answered_at")
        batch_op.drop_column("country")
