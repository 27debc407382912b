"""custody_retention: a retained sample's keep-until date (留样期限) and the temperature on receipt

Revision ID: 0027_custody_retention
Revises: 0026_user_language
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_custody_retention"
down_revision = "0026_user_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (SQLite has them): no table rebuild
    op.add_column("custody_event", sa.Column("keep_until", sa.Date(), nullable=True))
    op.add_column("custody_event", sa.Column("temperature_c", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("custody_event") as batch:
        batch.drop_column("temperature_c")
        batch.drop_column("keep_until")
