"""Audit integrity (issue 11): one signature per meaning per record version; TRUNCATE refused; secrets
redacted from the trail.

* ``uq_signature_meaning``: a unique index on signature (record_type, record_id, meaning), so a second review,
  approval or authorship of the same result version — two parallel submits — is refused by the database.
  Existing duplicates stop the migration with their ids (they need a person's decision, not a silent delete).
* PostgreSQL: statement triggers refuse ``TRUNCATE`` of audit_event, result, signature and report.
* The argon2 password hashes (and token digests) recorded by earlier events are replaced by their
  fingerprints, with a documented ``redact`` event per redacted event (lims/db/redaction.py), so
  ``lims audit verify`` still verifies the chain.

Revision ID: 0016_audit_integrity
Revises: 0015_pt_accounts_verify_runs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lims.db import triggers
from lims.db.redaction import redact_recorded_secrets

revision = "0016_audit_integrity"
down_revision = "0015_pt_accounts_verify_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    duplicates = conn.execute(sa.text(
        "SELECT record_type, record_id, meaning, COUNT(*) FROM signature GROUP BY record_type, record_id, meaning "
        "HAVING COUNT(*) > 1")).all()
    if duplicates:
        listed = "; ".join(f"{t} {i} {m} ×{n}" for t, i, m, n in duplicates[:10])
        raise RuntimeError(f"0016: records signed twice with the same meaning ({listed}); decide which signature "
                           "stands (reject and re-sign the result) before upgrading")
    op.create_index("uq_signature_meaning", "signature", ["record_type", "record_id", "meaning"], unique=True)
    for statement in triggers.drop_truncate_statements(dialect) + triggers.truncate_statements(dialect):
        op.execute(statement)
    for statement in triggers.audit_update_statements(dialect, allow=True):
        op.execute(statement)
    redact_recorded_secrets(conn, actor="migration:0016_audit_integrity",
                            reason="secrets are never audited: recorded password hashes replaced by fingerprints")
    for statement in triggers.audit_update_statements(dialect, allow=False):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_truncate_statements(dialect):
        op.execute(statement)
    op.drop_index("uq_signature_meaning", table_name="signature")
