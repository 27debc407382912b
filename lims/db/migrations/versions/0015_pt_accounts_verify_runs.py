"""PT participants bound to accounts; audit verification runs as a job

``pt_participant_account``: the accounts that may submit and read the results of one participant of a
provider round (a participant code is bound to the accounts of its laboratory; holders of ``pt:manage``
enter results on a participant's behalf, audited under their own name).
``audit_verify_run``: each run of the audit-trail verification (``POST /api/v1/audit/verify`` starts one in
the background; ``GET`` answers the newest finished run with its time instead of verifying on every request).

Revision ID: 0015_pt_accounts_verify_runs
Revises: 0014_account_lifecycle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_pt_accounts_verify_runs"
down_revision = "0014_account_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("pt_participant_account",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("participant_id", sa.Integer(), nullable=False),
                    sa.Column("user_id", sa.Integer(), nullable=False),
                    sa.ForeignKeyConstraint(["participant_id"], ["pt_participant.id"]),
                    sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
                    sa.PrimaryKeyConstraint("id"),
                    sa.UniqueConstraint("participant_id", "user_id"))
    op.create_table("audit_verify_run",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("requested_by", sa.String(length=60), nullable=False),
                    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
                    sa.Column("status", sa.String(length=20), nullable=False),
                    sa.Column("ok", sa.Boolean(), nullable=True),
                    sa.Column("audit_events", sa.Integer(), nullable=True),
                    sa.Column("certified_records", sa.Integer(), nullable=True),
                    sa.Column("message", sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index("ix_audit_verify_run_status", "audit_verify_run", ["status"])


def downgrade() -> None:
    op.drop_index("ix_audit_verify_run_status", table_name="audit_verify_run")
    op.drop_table("audit_verify_run")
    op.drop_table("pt_participant_account")
