"""The audit trail as shown: events (REST), events with their field-level changes (the audit page)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import AuditEvent
from lims.db.verify import verify_database
from lims.services import queries
from lims.services.queries import Page


class AuditEventRow(TypedDict):
    """An audit event: who did what to which record, when and why, old and new (canonical JSON)."""

    seq: int
    at: str
    actor: str
    action: str
    table: str
    record_id: str
    old: str | None
    new: str | None
    reason: str | None
    hash: str


def _events(table_name: str | None, record_id: str | None = None) -> Any:
    q = select(AuditEvent)
    if table_name:
        q = q.where(AuditEvent.table_name == table_name)
    if record_id:
        q = q.where(AuditEvent.record_id == record_id)
    return q


def event_row(e: AuditEvent) -> AuditEventRow:
    return {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "table": e.table_name,
            "record_id": e.record_id, "old": e.old or None, "new": e.new or None, "reason": e.reason or None,
            "hash": e.hash}


def list_events(s: Session, *, table_name: str | None = None, record_id: str | None = None, limit: int,
                offset: int) -> Page:
    """A page of events, newest first, of one table (and record) or all."""
    return queries.page(s, _events(table_name, record_id).order_by(AuditEvent.seq.desc()), limit, offset, event_row)


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def audit_changes(old: str, new: str) -> list[dict[str, str]]:
    """Field-level old → new of one audit event (canonical JSON documents; unchanged fields left out)."""
    def load(text: str) -> dict[str, Any]:
        try:
            doc = json.loads(text) if text else {}
        except ValueError:
            return {"": text}
        return doc if isinstance(doc, dict) else {"": doc}
    before, after = load(old), load(new)
    out = []
    for key in sorted(before.keys() | after.keys()):
        if key in before and key in after and before[key] == after[key]:
            continue
        out.append({"field": key, "old": _short(before[key]) if key in before else "",
                    "new": _short(after[key]) if key in after else ""})
    return out


def audit_page(s: Session, *, table: str, limit: int, offset: int, verify_chain: bool) -> dict[str, Any]:
    """The audit page: a page of events with their changes, the tables that have events, and (asked
    for) the chain's verification."""
    q = _events(table)
    total, exact = queries.count_capped(s, q)
    events = s.execute(q.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).scalars().all()
    tables = sorted(s.execute(select(AuditEvent.table_name).distinct()).scalars())
    return {"total": total, "exact": exact, "tables": tables,
            "verification": verify_database(s) if verify_chain else None,
            "events": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "table": e.table_name,
                        "record_id": e.record_id, "changes": audit_changes(e.old, e.new), "reason": e.reason,
                        "hash": e.hash} for e in events]}
