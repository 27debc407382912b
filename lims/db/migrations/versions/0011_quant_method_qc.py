"""quantitation: stored curve fits, calibration strategies, per-method QC limits, validation data

``calibration_curve.fit`` holds the fit record (calibration.stored: model, weighting, parameters, their
covariance, residual SD, degrees of freedom, the calibration points and weights as fitted): a result is
computed from it, never from a new fit. Curves stored before this revision have no fit record: the
migration computes nothing (a fit made now by today's code would not be the record the curve's results
were certified from), and quantitation against such a curve is refused (``batches.curve_fit_missing``)
until the curve is stored again as a new version. ``strategy`` / ``strategy_detail``: how the curve was
made (external standard, internal standard, matrix-matched with ME %, standard addition, bracketing) and
its identification references. ``method_qc``: a method's calibration strategy, batch-QC limits and
identification rule; ``method_validation``: validation data per method × analyte × matrix.

Revision ID: 0011_quant_method_qc
Revises: 0010_report_rounding
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_quant_method_qc"
down_revision = "0010_report_rounding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calibration_curve", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fit", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("strategy", sa.String(length=30), nullable=False,
                                      server_default="external_standard"))
        batch_op.add_column(sa.Column("strategy_detail", sa.JSON(), nullable=True))
    op.create_table(
        "method_qc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=False),
        sa.Column("calibration_strategy", sa.String(length=30), nullable=False),
        sa.Column("recovery_min_percent", sa.Float(), nullable=False),
        sa.Column("recovery_max_percent", sa.Float(), nullable=False),
        sa.Column("duplicate_max_rpd_percent", sa.Float(), nullable=False),
        sa.Column("ccv_max_drift_percent", sa.Float(), nullable=False),
        sa.Column("blank_max_fraction_of_rl", sa.Float(), nullable=False),
        sa.Column("reference_max_bias_percent", sa.Float(), nullable=False),
        sa.Column("identification", sa.String(length=20), nullable=False),
        sa.Column("spike_u_cref_percent", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("method_id"),
    )
    op.create_table(
        "method_validation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=False),
        sa.Column("analyte_id", sa.Integer(), nullable=False),
        sa.Column("commodity_id", sa.Integer(), nullable=True),
        sa.Column("level_mg_kg", sa.Float(), nullable=True),
        sa.Column("recovery_mean_percent", sa.Float(), nullable=False),
        sa.Column("recovery_sd_percent", sa.Float(), nullable=False),
        sa.Column("recovery_n", sa.Integer(), nullable=False),
        sa.Column("rsd_rw_percent", sa.Float(), nullable=False),
        sa.Column("u_cref_percent", sa.Float(), nullable=False),
        sa.Column("validated_on", sa.Date(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["analyte_id"], ["analyte.id"]),
        sa.ForeignKeyConstraint(["commodity_id"], ["commodity.id"]),
        sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("method_id", "analyte_id", "commodity_id"),
    )


def downgrade() -> None:
    op.drop_table("method_validation")
    op.drop_table("method_qc")
    with op.batch_alter_table("calibration_curve", schema=None) as batch_op:
        batch_op.drop_column("strategy_detail")
        batch_op.drop_column("strategy")
        batch_op.drop_column("fit")
