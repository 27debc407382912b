"""Proficiency testing: the rounds."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import FactoryDep, read_service
from api.ui.base import P, PtPage, area_router, render
from lims.pt import views as pt_views

router = area_router()


@router.get("/pt", response_class=HTMLResponse)
def pt_page(request: Request, me: PtPage, factory: FactoryDep) -> HTMLResponse:
    return render(request, me, "ui_pt.html", "/pt", can_submit=me.can(P.PT_SUBMIT), rounds=read_service(
        factory, lambda s: pt_views.rounds_list(s, newest_first=True, limit=200)))
