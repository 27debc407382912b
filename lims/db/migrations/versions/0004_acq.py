"""acquisition: where a raw capture came from and the unit it belongs to

``raw_capture.source`` names the origin (export file name, peer address, register block);
``raw_capture.unit_sha256`` is the SHA-256 of the complete unit the capture belongs to (a line, an ASTM
message without its H record, a binary reply, a register block, an export file), indexed with the
instrument so a unit the instrument sends again (after a NAK, a disconnect or a reboot) is recognised and
stored as a duplicate capture instead of a second set of readings.

Revision ID: 0004_acq
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_acq"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raw_capture", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("unit_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_raw_capture_unit", ["instrument_id", "unit_sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("raw_capture", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_capture_unit")
        batch_op.drop_column("unit_sha256")
        batch_op.drop_column("source")
