"""hub: lab registry with key rotation, receipts with an in-flight claim, messages and results partitioned by
month on PostgreSQL, alerts

* ``hub_lab`` (code, name, allowed GB/T 2260 region, kind lab|hub); every lab that had a key gets a row.
* ``hub_lab_key``: several keys per lab (rotation), ``fingerprint``, ``created_at``, ``retired_at``; the table is
  rebuilt (its old unique constraint on ``lab_code`` is unnamed).
* ``hub_receipt``: ``state`` (in_flight | stored), ``claimed_at``, ``message_lab``, ``schema``, ``results``;
  ``payload`` becomes nullable (the bytes now live in ``hub_message``).
* ``hub_message`` / ``hub_result``: ``PARTITION BY RANGE (received_at)`` on PostgreSQL with a default
  partition (monthly partitions are added by lims.hub.partitions when a hub starts); plain tables on SQLite.
* ``hub_alert``.

Revision ID: 0019_hub
Revises: 0018_method_id_windows
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0019_hub"
down_revision = "0018_method_id_windows"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _fingerprint(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem.encode())
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    except (ValueError, TypeError):
        raw = pem.encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def _registry() -> None:
    op.create_table("hub_lab",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("code", sa.String(length=40), nullable=False),
                    sa.Column("name", sa.String(length=200), nullable=False),
                    sa.Column("region_code", sa.String(length=6), nullable=False),
                    sa.Column("kind", sa.String(length=10), nullable=False),
                    sa.Column("created_at", TS, nullable=False),
                    sa.PrimaryKeyConstraint("id"), sa.UniqueConstraint("code"))
    conn = op.get_bind()
    old = conn.execute(sa.text("SELECT lab_code, public_key_pem FROM hub_lab_key")).all()
    op.drop_table("hub_lab_key")
    keys = op.create_table("hub_lab_key",
                           sa.Column("id", sa.Integer(), nullable=False),
                           sa.Column("lab_code", sa.String(length=40), nullable=False),
                           sa.Column("public_key_pem", sa.Text(), nullable=False),
                           sa.Column("fingerprint", sa.String(length=64), server_default="", nullable=False),
                           sa.Column("created_at", TS, nullable=True),
                           sa.Column("retired_at", TS, nullable=True),
                           sa.PrimaryKeyConstraint("id"),
                           sa.UniqueConstraint("lab_code", "fingerprint", name="uq_hub_lab_key_fingerprint"))
    op.create_index("ix_hub_lab_key_lab_code", "hub_lab_key", ["lab_code"])
    labs = sa.table("hub_lab", sa.column("code"), sa.column("name"), sa.column("region_code"), sa.column("kind"),
                    sa.column("created_at"))
    if old:
        now = sa.func.now() if conn.dialect.name == "postgresql" else sa.func.current_timestamp()
        op.bulk_insert(keys, [{"lab_code": c, "public_key_pem": p, "fingerprint": _fingerprint(p)} for c, p in old])
        for code, _ in old:
            conn.execute(labs.insert().values(code=code, name="", region_code="", kind="lab", created_at=now))


def _receipts() -> None:
    with op.batch_alter_table("hub_receipt", schema=None) as b:
        b.alter_column("payload", existing_type=sa.Text(), nullable=True)
        b.add_column(sa.Column("state", sa.String(length=12), server_default="stored", nullable=False))
        b.add_column(sa.Column("claimed_at", TS, nullable=True))
        b.add_column(sa.Column("message_lab", sa.String(length=40), server_default="", nullable=False))
        b.add_column(sa.Column("schema", sa.String(length=40), server_default="", nullable=False))
        b.add_column(sa.Column("results", sa.Integer(), server_default="0", nullable=False))
        b.create_index("ix_hub_receipt_message_lab", ["message_lab", "received_at"])
    op.execute("UPDATE hub_receipt SET message_lab = lab_code")


def _partitioned(name: str, *cols: sa.Column, pk: tuple[str, ...]) -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    kw = {"postgresql_partition_by": "RANGE (received_at)"} if pg else {}
    op.create_table(name, *cols, sa.PrimaryKeyConstraint(*pk), **kw)
    if pg:
        op.execute(f"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT")


def upgrade() -> None:
    _registry()
    _receipts()
    _partitioned("hub_message",
                 sa.Column("receipt_id", sa.Integer(), nullable=False),
                 sa.Column("received_at", TS, nullable=False),
                 sa.Column("lab_code", sa.String(length=40), nullable=False),
                 sa.Column("schema", sa.String(length=40), nullable=False),
                 sa.Column("sample_code", sa.String(length=60), nullable=True),
                 sa.Column("payload", sa.Text(), nullable=False), pk=("receipt_id", "received_at"))
    _partitioned("hub_result",
                 sa.Column("receipt_id", sa.Integer(), nullable=False),
                 sa.Column("position", sa.Integer(), nullable=False),
                 sa.Column("received_at", TS, nullable=False),
                 sa.Column("lab_code", sa.String(length=40), nullable=False),
                 sa.Column("result_id", sa.Integer(), nullable=False),
                 sa.Column("change", sa.String(length=12), nullable=False),
                 sa.Column("supersedes", sa.Integer(), nullable=True),
                 sa.Column("current", sa.Boolean(), nullable=False),
                 sa.Column("sample_code", sa.String(length=60), nullable=False),
                 sa.Column("region_code", sa.String(length=6), nullable=False),
                 sa.Column("commodity", sa.String(length=60), nullable=False),
                 sa.Column("commodity_name", sa.String(length=300), nullable=False),
                 sa.Column("analyte", sa.String(length=60), nullable=False),
                 sa.Column("analyte_name", sa.String(length=300), nullable=False),
                 sa.Column("verdict", sa.String(length=40), nullable=False),
                 sa.Column("res_type", sa.String(length=4), nullable=False),
                 sa.Column("value", sa.Float(), nullable=True),
                 sa.Column("unit", sa.String(length=20), nullable=False),
                 sa.Column("limit_value", sa.Float(), nullable=True),
                 sa.Column("limit_type", sa.String(length=20), nullable=False),
                 sa.Column("producer_code", sa.String(length=80), nullable=False),
                 sa.Column("producer_name", sa.String(length=300), nullable=False),
                 sa.Column("month", sa.String(length=7), nullable=False),
                 pk=("receipt_id", "position", "received_at"))
    op.create_index("ix_hub_result_lab_result", "hub_result", ["lab_code", "result_id"])
    op.create_index("ix_hub_result_month", "hub_result", ["month", "region_code"])
    op.create_table("hub_alert",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("created_at", TS, nullable=False),
                    sa.Column("rule", sa.String(length=40), nullable=False),
                    sa.Column("region_code", sa.String(length=6), nullable=False),
                    sa.Column("lab_code", sa.String(length=40), nullable=False),
                    sa.Column("subject", sa.String(length=200), nullable=False),
                    sa.Column("detail", sa.Text(), nullable=False),
                    sa.Column("notified_at", TS, nullable=True),
                    sa.Column("notify_error", sa.Text(), nullable=False),
                    sa.PrimaryKeyConstraint("id"),
                    sa.UniqueConstraint("rule", "subject", name="uq_hub_alert_subject"))


def downgrade() -> None:
    op.drop_table("hub_alert")
    op.drop_table("hub_result")
    op.drop_table("hub_message")
    with op.batch_alter_table("hub_receipt", schema=None) as b:
        b.drop_index("ix_hub_receipt_message_lab")
        for col in ("results", "schema", "message_lab", "claimed_at", "state"):
            b.drop_column(col)
    op.drop_table("hub_lab")
