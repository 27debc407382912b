"""acquisition: reading value states, units and review holds; instrument events

``reading.value_state`` says how a device's values came (``ok``, ``nan``, ``infinite``, ``out_of_range``,
``sentinel``): a value that is not a number is stored as absent with its state, never as ``NaN`` in a JSON
column (PostgreSQL refuses it, SQLite stored invalid JSON). ``reading.units`` carries the units the profile
declares for the reading's fields. ``reading.review_hold`` (non-empty) holds a reading for review, e.g. a
reading of a run that did not arrive complete. ``instrument_event`` lists what a person must see about an
instrument's runs and link (incomplete runs, sequence gaps, records given up after retries, refused files).

Revision ID: 0009_acq_values
Revises: 0008_acq_resend
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_acq_values"
down_revision = "0008_acq_resend"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value_state", sa.String(length=20), nullable=False, server_default="ok"))
        batch_op.add_column(sa.Column("units", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("review_hold", sa.String(length=300), nullable=False, server_default=""))
    op.create_table(
        "instrument_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("run_no", sa.String(length=30), nullable=False),
        sa.Column("raw_capture_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instrument_id"], ["instrument.id"]),
        sa.ForeignKeyConstraint(["raw_capture_id"], ["raw_capture.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_instrument_event_inst", "instrument_event", ["instrument_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_instrument_event_inst", table_name="instrument_event")
    op.drop_table("instrument_event")
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.drop_column("review_hold")
        batch_op.drop_column("units")
        batch_op.drop_column("value_state")
