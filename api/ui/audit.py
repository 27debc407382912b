"""Audit trail: events with their field-level changes, and the chain verification."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal
from api.ui.base import AUDIT_PAGE_SIZE, AuditPage, Offset, area_router, pager, render
from lims.db.models import AuditEvent
from lims.db.verify import verify_database
from lims.services import queries

router = area_router()


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


def _audit(s: Session, table: str, offset: int, verify: bool) -> dict[str, Any]:
    q = select(AuditEvent)
    if table:
        q = q.where(AuditEvent.table_name == table)
    total, exact = queries.count_capped(s, q)
    events = s.execute(q.order_by(AuditEvent.seq.desc()).limit(AUDIT_PAGE_SIZE).offset(offset)).scalars().all()
    tables = sorted(s.execute(select(AuditEvent.table_name).distinct()).scalars())
    outcome = verify_database(s) if verify else None
    return {"total": total, "exact": exact, "tables": tables, "verification": outcome,
            "events": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "table": e.table_name,
                        "record_id": e.record_id, "changes": audit_changes(e.old, e.new), "reason": e.reason,
                        "hash": e.hash} for e in events]}


def _audit_page(request: Request, me: Principal, factory: sessionmaker[Session], table: str, offset: int,
                verify: bool) -> HTMLResponse:
    data = read_service(factory, lambda s: _audit(s, table, offset, verify))
    return render(request, me, "ui_audit.html", "/audit", events=data["events"], tables=data["tables"],
                  table=table, verification=data["verification"],
                  pager=pager("/audit", {"table": table}, offset, AUDIT_PAGE_SIZE, data["total"], data["exact"]))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, me: AuditPage, factory: FactoryDep,
               table: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    return _audit_page(request, me, factory, table, offset, verify=False)


@router.get("/audit/verify", response_class=HTMLResponse)
def audit_verify_page(request: Request, me: AuditPage, factory: FactoryDep,
                      table: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    """校验审计链: the outcome of ``lims audit verify`` (hash chain and certified records) on this page."""
    return _audit_page(request, me, factory, table, offset, verify=True)
