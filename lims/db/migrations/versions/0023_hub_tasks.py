"""hub_task: monitoring tasks a hub publishes to the labs below it (GET /hub/v1/tasks)

Revision ID: 0023_hub_tasks
Revises: 0022_registers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_hub_tasks"
down_revision = "0022_registers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("hub_task",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("code", sa.String(length=60), nullable=False),
                    sa.Column("version", sa.Integer(), nullable=False),
                    sa.Column("notice", sa.Text(), nullable=False),
                    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("code"))


def downgrade() -> None:
    op.drop_table("hub_task")
