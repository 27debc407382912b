"""Global search: the header's box → ``/search?q=`` (samples by code, 追溯码, 合格证 number or producer;
reports by number) through :mod:`lims.services.views.search`. A sample code typed (or scanned) exactly
opens that sample."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import FactoryDep, read_service
from api.ui.base import SamplesPage, area_router, render
from lims.services.views import search as search_views

router = area_router()


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, me: SamplesPage, factory: FactoryDep,
                q: Annotated[str, Query(max_length=search_views.MAX_LENGTH)] = "") -> Response:
    found = read_service(factory, lambda s: search_views.search(s, q))
    if found["exact"]:  # a sample code typed or scanned exactly: its page (its reports are listed there)
        return RedirectResponse(f"/samples/{quote(found['exact'], safe='')}", status_code=303)
    return render(request, me, "ui_search.html", "/search", found=found, search_q=found["q"])
