"""Proficiency testing: the rounds."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import FactoryDep, read_service
from api.ui.base import PtPage, area_router, render
from api.ui.labels import P
from lims.db.models_pt import PtRound

router = area_router()


@router.get("/pt", response_class=HTMLResponse)
def pt_page(request: Request, me: PtPage, factory: FactoryDep) -> HTMLResponse:
    def go(s: Session) -> list[dict[str, Any]]:
        rounds = s.execute(select(PtRound).order_by(PtRound.id.desc()).limit(200)).scalars().all()
        return [{"code": r.code, "title": r.title, "matrix": r.matrix, "status": r.status,
                 "provider": r.scheme.provider_name, "deadline": r.deadline} for r in rounds]
    return render(request, me, "ui_pt.html", "/pt", rounds=read_service(factory, go),
                  can_submit=me.can(P.PT_SUBMIT))

