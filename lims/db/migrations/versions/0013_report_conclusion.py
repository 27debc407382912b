"""report.conclusion: the conclusion printed on the report (检测结论), kept with the issued version so the
public verification page shows what the signed report says. The column is frozen like the rest of an
issued report: the immutability triggers are re-created with it.

Revision ID: 0013_report_conclusion
Revises: 0012_limits_classification
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lims.db import triggers

#: Columns covered by the immutability triggers at this revision (frozen here on purpose).
RESULT_COLUMNS_0013 = (
    "id", "analysis_id", "version", "supersedes_id", "value", "value_text", "unit", "qualitative",
    "inhibition_percent", "lod", "loq", "expanded_uncertainty", "coverage_factor", "limit_id",
    "decision_rule", "verdict", "source", "reading_id", "curve_id", "manual_reason", "analyst_id",
    "reviewer_id", "approver_id", "created_at", "details",
)
REPORT_COLUMNS_BEFORE = (
    "id", "report_no", "version", "supersedes_id", "sample_id", "lang", "path", "file_sha256",
    "content_hash", "amendment_reason", "issued_at",
)
REPORT_COLUMNS_0013 = (*REPORT_COLUMNS_BEFORE, "conclusion")

revision = "0013_report_conclusion"
down_revision = "0012_limits_classification"
branch_labels = None
depends_on = None


def _recreate_triggers(report_columns: tuple[str, ...]) -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect):
        op.execute(statement)
    for statement in triggers.create_statements(dialect, RESULT_COLUMNS_0013, report_columns):
        op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conclusion", sa.Text(), nullable=False, server_default=""))
    _recreate_triggers(REPORT_COLUMNS_0013)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect):
        op.execute(statement)
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("conclusion")
    _recreate_triggers(REPORT_COLUMNS_BEFORE)
