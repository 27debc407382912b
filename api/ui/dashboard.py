"""The home page: where the day's work stands."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import read_service
from api.security import Principal
from api.ui.base import render
from lims.services.views.dashboard import dashboard


def dashboard_page(request: Request, me: Principal, factory: sessionmaker[Session]) -> HTMLResponse:
    """The home page (mounted at "/" by api.app): where the day's work stands."""
    return render(request, me, "ui_dashboard.html", "/", data=read_service(factory, dashboard))
