"""Unmatched instrument readings assigned or dismissed by a person (issue 13): ``reading_disposition``.

Revision ID: 0024_reading_disposition
Revises: 0023_hub_tasks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_reading_disposition"
down_revision = "0023_hub_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reading_disposition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reading_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["analysis_id"], ["analysis.id"]),
        sa.ForeignKeyConstraint(["reading_id"], ["reading.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reading_id"),
    )


def downgrade() -> None:
    op.drop_table("reading_disposition")
