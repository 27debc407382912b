"""Redaction of secrets recorded in the audit trail before secrets were kept out of it (migration 0016).

Each event of a table with secret columns (lims.db.audit.SECRET_FIELDS) whose ``old``/``new`` text still
holds a secret gets that value replaced by its fingerprint (``<redacted: changed; sha256=…>``, the form new
events use). The event keeps its hash, so the chain still links through it; for each one a ``redact`` event
is appended to the chain (table ``audit_event``, record = the redacted seq) naming the secret fields, the
original hash and the SHA-256 of the redacted text. lims.db.audit.verify_chain accepts a redacted event
only with such a record, only for secret fields, and only while its text is exactly what was redacted.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from lims.db.audit import (
    REDACT_ACTION,
    SECRET_FIELDS,
    append_events_on,
    canonical_json,
    redact_secret,
    redaction_digest,
)


def _redact_text(text_: str, secret: frozenset[str]) -> tuple[str, list[str]]:
    if not text_:
        return text_, []
    values = json.loads(text_)
    if not isinstance(values, dict):
        return text_, []
    fields = sorted(k for k in secret & values.keys() if redact_secret(values[k]) != values[k])
    if not fields:
        return text_, []
    return canonical_json({k: (redact_secret(v) if k in fields else v) for k, v in values.items()}), fields


def redact_recorded_secrets(conn: Any, *, actor: str, reason: str) -> int:
    """Redact secrets already in the trail (see the module docstring); returns the number of events."""
    events: list[tuple[str, str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
    for table, secret in SECRET_FIELDS.items():
        rows = conn.execute(text(
            "SELECT id, seq, old, new, hash FROM audit_event WHERE table_name = :t AND action <> :a ORDER BY seq"),
            {"t": table, "a": REDACT_ACTION}).all()
        for row_id, seq, old, new, chain_hash in rows:
            old2, old_fields = _redact_text(old or "", secret)
            new2, new_fields = _redact_text(new or "", secret)
            if not old_fields and not new_fields:
                continue
            conn.execute(text("UPDATE audit_event SET old = :o, new = :n WHERE id = :i"),
                         {"o": old2, "n": new2, "i": row_id})
            events.append((REDACT_ACTION, "audit_event", str(seq), None, {
                "seq": seq, "table": table, "fields": {"old": old_fields, "new": new_fields},
                "original_hash": chain_hash, "redacted_sha256": redaction_digest(old2, new2),
                "why": "secrets are never audited (issue 11): value replaced by its fingerprint"}))
    if events:
        append_events_on(conn, events, actor=actor, reason=reason)
    return len(events)
