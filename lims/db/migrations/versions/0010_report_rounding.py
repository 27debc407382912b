"""Reporting precision per method and per method × analyte.

``method.report_figures`` / ``method.report_decimals`` state how the method's results are reported
(significant figures, or a fixed number of decimals in the result's unit); ``method_scope`` may set
them for one analyte of the method. All null: the SANTE/11312/2021 default (< 10 mg/kg 2 significant
figures, ≥ 10 mg/kg 3). Rounding is GB/T 8170-2008 (round half to even); the database keeps full
precision.

Revision ID: 0010_report_rounding
Revises: 0009_acq_values
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_report_rounding"
down_revision = "0009_acq_values"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("method", "method_scope"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("report_figures", sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column("report_decimals", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("method_scope", "method"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("report_decimals")
            batch_op.drop_column("report_figures")
