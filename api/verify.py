"""Public report verification (``GET /verify/{report_no}``): the page a QR code on a printed report opens.

A browser gets a zh-CN/English page saying "报告真实有效" (or that the report was replaced by report X),
with the sample, producer and conclusion the report states and its content hash; a client that asks for
JSON (``Accept: application/json`` preferred over text/html) gets :class:`ReportVerification`. No login, but
the report number AND the content hash printed on the report (``?sha256=``, in the QR code) are needed.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import FactoryDep, read_service
from api.security import public
from api.ui.base import TEMPLATES
from lims.services.views import reports as report_views
from lims.services.views.reports import ReportVerification

router = APIRouter()


def _quality(accept: str, media: str) -> float:
    """The q-value ``accept`` gives ``media`` by its exact entry (0 when not named)."""
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if parts[0].lower() != media:
            continue
        for p in parts[1:]:
            if p.startswith("q="):
                try:
                    return float(p[2:])
                except ValueError:
                    return 0.0
        return 1.0
    return 0.0


def wants_json(accept: str | None) -> bool:
    """JSON only for a client that names application/json and prefers it to text/html (a browser, curl's
    ``*/*`` and a missing header get the page)."""
    if not accept:
        return False
    json_q = _quality(accept, "application/json")
    return json_q > 0 and json_q >= _quality(accept, "text/html")


def _same_hash(stored: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(stored.lower().encode(), given.strip().lower().encode())


def as_printed(v: ReportVerification) -> ReportVerification:
    """``v`` without what the printed report does not show: the other versions' list and amendment reasons
    and file hashes (the report states its own reason and names the report it replaces)."""
    def bare(b: Any) -> Any:
        return None if b is None else {**b, "amendment_reason": None, "file_sha256": None}
    return {**v, "supersedes": bare(v["supersedes"]), "superseded_by": bare(v["superseded_by"]),  # type: ignore[typeddict-item]
            "versions": []}


@router.get("/verify/{report_no}", tags=["reports"], summary="报告核验 / verify a report",
            dependencies=[public()], response_model=ReportVerification,
            responses={200: {"content": {"text/html": {}}}, 404: {"description": "报告不存在 / no such report"}})
def verify_report(request: Request, report_no: str, factory: FactoryDep,
                  accept: Annotated[str | None, Header()] = None,
                  sha256: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    found = read_service(factory, lambda s: report_views.report_verification(s, report_no))
    # issue 11: the number AND the hash printed beside it (the QR code carries both), or "not found": report
    # numbers alone cannot be enumerated; and only what the printed report shows (no other version's reason)
    found = as_printed(found) if found is not None and _same_hash(found["content_hash"], sha256) else None
    if wants_json(accept):
        if found is None:
            return JSONResponse({"detail": f"report {report_no} not found"}, status_code=404)
        return JSONResponse(dict(found))
    page = TEMPLATES.TemplateResponse(request, "verify.html", {
        "report_no": report_no, "v": found,
        "hash_checked": sha256 is not None and found is not None,
        "hash_matches": found is not None and sha256 is not None and sha256.lower() == found["content_hash"]})
    return HTMLResponse(page.body, status_code=200 if found else 404)
