"""limits: commodity classification and limit rows you can rely on

``commodity.parent_id`` / ``level`` / ``aliases``: the commodity classification (GB 2763-2021 Appendix A
groups and subgroups; GB 31650-2019 target tissues), so that a limit set for a group (豆类蔬菜) applies to
its commodities (豇豆). The classification itself is data (lims/limits/commodity_classification.csv),
seeded by ``lims db upgrade``, ``lims lab init`` and every limit import (lims.services.limits), not by
this migration: a lab adds its own commodities under it, and a corrected classification is applied by
seeding again, without a schema change.

``limit_entry.verified``: the row was checked against the standard's own text at the clause named;
``valid_from`` / ``valid_until``: the dates on which the row applies (``lims limits find --date``).

Revision ID: 0012_limits_classification
Revises: 0011_quant_method_qc
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_limits_classification"
down_revision = "0011_quant_method_qc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("commodity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("level", sa.String(length=20), nullable=False, server_default="commodity"))
        batch_op.add_column(sa.Column("aliases", sa.String(length=300), nullable=False, server_default=""))
        batch_op.create_foreign_key("fk_commodity_parent_id", "commodity", ["parent_id"], ["id"])
    with op.batch_alter_table("limit_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("limit_entry", schema=None) as batch_op:
        batch_op.drop_column("valid_until")
        batch_op.drop_column("valid_from")
        batch_op.drop_column("verified")
    with op.batch_alter_table("commodity", schema=None) as batch_op:
        batch_op.drop_constraint("fk_commodity_parent_id", type_="foreignkey")
        batch_op.drop_column("aliases")
        batch_op.drop_column("level")
        batch_op.drop_column("parent_id")
