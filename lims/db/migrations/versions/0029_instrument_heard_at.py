"""instrument.heard_at: when ``lims acquire`` last heard the device (any byte, any poll reply), so a silent
device — or a stopped acquisition process — is visible from the database alone (issue 13, link state).

Revision ID: 0029_instrument_heard_at
Revises: 0028_instrument_worklist
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_instrument_heard_at"
down_revision = "0028_instrument_worklist"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("instrument", sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instrument") as batch:
        batch.drop_column("heard_at")
