"""Audit trail: events with their field-level changes, filtered by person, local dates, record type (in
words) and action, sign-ins hidden unless asked for (:mod:`lims.services.views.audit_trail`); and the chain
verification."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal
from api.ui.base import AUDIT_PAGE_SIZE, AuditPage, Offset, area_router, pager, render
from lims.services import verify_runs
from lims.services.views.audit import audit_changes
from lims.services.views.audit_trail import audit_trail
from lims.vocabulary import AuditAction

__all__ = ["audit_changes", "router"]

router = area_router()
Short = Annotated[str, Query(max_length=120)]


def _day(text: str) -> dt.date | None:
    """A date from the form (YYYY-MM-DD); anything else is no bound."""
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _audit_page(request: Request, me: Principal, factory: sessionmaker[Session], filters: dict[str, str],
                offset: int, verify: bool) -> HTMLResponse:
    # the verification is a job run one at a time (lims.services.verify_runs): concurrent requests join it
    verification = verify_runs.run_and_wait(factory, me.username) if verify else None
    action = filters["action"] if filters["action"] in {a.value for a in AuditAction} else ""
    since, until = _day(filters["since"]), _day(filters["until"])
    logins = filters["logins"] == "1"
    data = read_service(factory, lambda s: audit_trail(
        s, actor=filters["actor"], table=filters["table"], action=action, since=since, until=until, logins=logins,
        limit=AUDIT_PAGE_SIZE, offset=offset))
    return render(request, me, "ui_audit.html", "/audit", events=data["events"], tables=data["tables"],
                  people=data["people"], actions=list(AuditAction), filters=filters, verification=verification,
                  pager=pager("/audit", filters, offset, AUDIT_PAGE_SIZE, data["total"], data["exact"]))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, me: AuditPage, factory: FactoryDep, actor: Short = "", table: Short = "",
               action: Short = "", since: Short = "", until: Short = "", logins: Short = "",
               offset: Offset = 0) -> HTMLResponse:
    filters = {"actor": actor, "table": table, "action": action, "since": since, "until": until, "logins": logins}
    return _audit_page(request, me, factory, filters, offset, verify=False)


@router.get("/audit/verify", response_class=HTMLResponse)
def audit_verify_page(request: Request, me: AuditPage, factory: FactoryDep, actor: Short = "", table: Short = "",
                      action: Short = "", since: Short = "", until: Short = "", logins: Short = "",
                      offset: Offset = 0) -> HTMLResponse:
    """校验审计链: the outcome of ``lims audit verify`` (hash chain and certified records) on this page."""
    filters = {"actor": actor, "table": table, "action": action, "since": since, "until": until, "logins": logins}
    return _audit_page(request, me, factory, filters, offset, verify=True)
