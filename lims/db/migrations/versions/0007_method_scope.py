"""Method scope: which analytes each method determines.

Revision ID: 0007_method_scope
Revises: 0006_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_method_scope"
down_revision = "0006_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "method_scope",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=False),
        sa.Column("analyte_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["analyte_id"], ["analyte.id"]),
        sa.ForeignKeyConstraint(["method_id"], ["method.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("method_id", "analyte_id"),
    )


def downgrade() -> None:
    op.drop_table("method_scope")
