"""user_language: the web UI's language kept per user ("zh-CN" by default, "en")

Revision ID: 0026_user_language
Revises: 0025_hub_token
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_user_language"
down_revision = "0025_hub_token"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite has it): no table rebuild, the expression index on username stays
    op.add_column("user_account", sa.Column("language", sa.String(length=10), nullable=False,
                                            server_default="zh-CN"))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("language")
