"""Monitoring tasks sent down by the hub (issue 14): ``monitoring_task.hub_notice``, the task notice as the
province published it (version, period, quotas by county and commodity; lims.upstream.tasks).

Revision ID: 0021_task_notice
Revises: 0020_quality
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_task_notice"
down_revision = "0020_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitoring_task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hub_notice", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitoring_task", schema=None) as batch_op:
        batch_op.drop_column("hub_notice")
