"""acquisition: count of duplicate resends per instrument

``instrument.duplicate_resends`` counts records an instrument sent again shortly after the LIMS had
acknowledged them — the sign of an ACK that reached the device after its reply timeout. Devices whose ACK
carries no sequence number (hardware-sim/PROTOCOLS.md (c)) may then take a later ACK for their next record;
the counter makes that visible in the instrument status.

Revision ID: 0008_acq_resend
Revises: 0007_method_scope
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_acq_resend"
down_revision = "0007_method_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instrument", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_resends", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("instrument", schema=None) as batch_op:
        batch_op.drop_column("duplicate_resends")
