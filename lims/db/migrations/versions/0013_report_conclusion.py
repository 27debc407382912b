"""report.conclusion: the conclusion printed on the report (检测结论), kept with the issued version so the
public verification page shows what the signed report says.

Revision ID: 0013_report_conclusion
Revises: 0012_limits_classification
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_report_conclusion"
down_revision = "0012_limits_classification"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conclusion", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("conclusion")
