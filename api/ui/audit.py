"""Audit trail: events with their field-level changes, and the chain verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal
from api.ui.base import AUDIT_PAGE_SIZE, AuditPage, Offset, area_router, pager, render
from lims.services import verify_runs
from lims.services.views import audit as audit_views
from lims.services.views.audit import audit_changes

__all__ = ["audit_changes", "router"]

router = area_router()


def _audit_page(request: Request, me: Principal, factory: sessionmaker[Session], table: str, offset: int,
                verify: bool) -> HTMLResponse:
    # the verification is a job run one at a time (lims.services.verify_runs): concurrent requests join it
    verification = verify_runs.run_and_wait(factory, me.username) if verify else None
    data = read_service(factory, lambda s: audit_views.audit_page(s, table=table, limit=AUDIT_PAGE_SIZE,
                                                                  offset=offset, verify_chain=False))
    return render(request, me, "ui_audit.html", "/audit", events=data["events"], tables=data["tables"],
                  table=table, verification=verification,
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
