"""method_qc: a method's own identification windows

``rt_tolerance_min`` / ``rt_tolerance_percent`` (RT window in minutes or in % of the reference RT) and
``ion_ratio_tolerance_percent`` (relative); NULL keeps the identification rule's (SANTE/11312/2021: RT ±0.1 min,
ion ratio ±30 %; GB 23200: RT ±2.5 %, ion-ratio tolerance banded by relative abundance).

Revision ID: 0018_method_id_windows
Revises: 0017_upstream
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_method_id_windows"
down_revision = "0017_upstream"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("method_qc", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rt_tolerance_min", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("rt_tolerance_percent", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ion_ratio_tolerance_percent", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("method_qc", schema=None) as batch_op:
        batch_op.drop_column("ion_ratio_tolerance_percent")
        batch_op.drop_column("rt_tolerance_percent")
        batch_op.drop_column("rt_tolerance_min")
