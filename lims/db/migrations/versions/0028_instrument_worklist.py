"""Worklists sent to instruments and link silence (issue 13): ``instrument_worklist``;
``instrument.expected_interval_s`` and ``instrument.silent_since``.

Revision ID: 0028_instrument_worklist
Revises: 0027_custody_retention
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_instrument_worklist"
down_revision = "0027_custody_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instrument_worklist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_no", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"]),
        sa.ForeignKeyConstraint(["instrument_id"], ["instrument.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instrument_worklist_inst", "instrument_worklist", ["instrument_id", "status", "id"])
    op.add_column("instrument", sa.Column("expected_interval_s", sa.Float(), nullable=True))
    op.add_column("instrument", sa.Column("silent_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instrument") as batch:
        batch.drop_column("silent_since")
        batch.drop_column("expected_interval_s")
    op.drop_index("ix_instrument_worklist_inst", table_name="instrument_worklist")
    op.drop_table("instrument_worklist")
