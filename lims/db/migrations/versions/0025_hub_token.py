"""hub_token: hub operator bearer tokens (SHA-256 only) for the hub's read and registry API

Revision ID: 0025_hub_token
Revises: 0024_reading_disposition
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_hub_token"
down_revision = "0024_reading_disposition"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("hub_token",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(length=60), nullable=False),
                    sa.Column("token_sha256", sa.String(length=64), nullable=False),
                    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
                    sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("name"), sa.UniqueConstraint("token_sha256"))


def downgrade() -> None:
    op.drop_table("hub_token")
