"""Upstream delivery (issue 14): per-sample ordering and each result's delivery state.

* ``outbox_message.sample_code`` (the sample whose results a message carries; a message is not due while an
  earlier message of the same sample is undelivered) with index ``ix_outbox_sample``;
* ``outbox_message.receipt_id``: the hub's receipt id once delivered;
* ``outbox_item``: which results a message carries (one sample's results per message, up to 100).

Existing result messages (``cn-agri-residue/1``, one result each) get their item row and sample code from
their idempotency key ``LAB:result:ID``.

Revision ID: 0017_upstream
Revises: 0016_audit_integrity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_upstream"
down_revision = "0016_audit_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sample_code", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("receipt_id", sa.String(length=80), nullable=False, server_default=""))
        batch_op.create_index("ix_outbox_sample", ["sample_code", "id"], unique=False)
    op.create_table(
        "outbox_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["outbox_message.id"]),
        sa.ForeignKeyConstraint(["result_id"], ["result.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "result_id"),
    )
    op.create_index("ix_outbox_item_result_id", "outbox_item", ["result_id"], unique=False)
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, idempotency_key FROM outbox_message WHERE kind = 'result'")).all()
    for message_id, key in rows:
        tail = str(key).rsplit(":", 1)[-1]
        if not tail.isdigit():
            continue
        code = conn.execute(sa.text(
            "SELECT s.code FROM result r JOIN analysis a ON a.id = r.analysis_id JOIN sample s ON s.id = a.sample_id "
            "WHERE r.id = :rid"), {"rid": int(tail)}).scalar()
        if code is None:
            continue
        conn.execute(sa.text("UPDATE outbox_message SET sample_code = :c WHERE id = :m"), {"c": code, "m": message_id})
        conn.execute(sa.text("INSERT INTO outbox_item (message_id, result_id) VALUES (:m, :r)"),
                     {"m": message_id, "r": int(tail)})


def downgrade() -> None:
    op.drop_index("ix_outbox_item_result_id", table_name="outbox_item")
    op.drop_table("outbox_item")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sample")
        batch_op.drop_column("receipt_id")
        batch_op.drop_column("sample_code")
