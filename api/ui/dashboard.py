"""The home page: where the day's work stands."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import read_service
from api.security import Principal
from api.ui.base import render
from lims.db.models import Instrument, Report, Result, Sample


def _dashboard(s: Session) -> dict[str, Any]:
    def counts(col: Any) -> dict[str, int]:
        return {k: n for k, n in s.execute(select(col, func.count()).group_by(col)).all()}
    instruments = s.execute(select(Instrument.connected, func.count()).group_by(Instrument.connected)).all()
    latest = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                       .order_by(Report.id.desc()).limit(5)).all()
    return {"samples": counts(Sample.status), "results": counts(Result.status),
            "instruments": {bool(c): n for c, n in instruments},
            "reports": [{"report_no": r.report_no, "version": r.version, "sample_code": code,
                         "issued_at": r.issued_at, "status": r.status} for r, code in latest]}


def dashboard_page(request: Request, me: Principal, factory: sessionmaker[Session]) -> HTMLResponse:
    """The home page (mounted at "/" by api.app): where the day's work stands."""
    return render(request, me, "ui_dashboard.html", "/", data=read_service(factory, _dashboard))

