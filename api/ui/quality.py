"""The QA manager's hub (质量管理) and the QC charts, and the helpers the quality pages share.

The hub lists the quality pages with what needs attention on each (open and overdue nonconformities,
instruments due for calibration, materials expiring, dead letters) — one entry in the navigation instead
of ten. QC charts are the Levey-Jennings charts of every control level with data
(:func:`lims.quality.charts.levey_jennings_svg`, Westgard multirule; Westgard et al., Clin Chem
1981;27:493), drawn on the server as SVG and shown inline.

Forms of the quality pages post to routes that call the same services as ``/api/v1/quality`` in one unit of
work (:func:`act` over :func:`api.deps.run_service`); a refusal re-renders the page with the reason in
Chinese first (:func:`api.ui.base.ui_error`) and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import area_router, render, ui_error
from api.ui.labels import P
from lims.clock import utcnow
from lims.quality import instruments as ins
from lims.quality import materials as mat
from lims.quality import nonconformity as ncs
from lims.quality import qcruns
from lims.services.errors import InvalidInput
from lims.upstream import queue
from lims.vocabulary import NonconformityStatus

router = area_router()
QualityPage = Annotated[Principal, require_ui(P.QUALITY_READ)]
QualityRaiser = Annotated[Principal, require_ui(P.QUALITY_RAISE)]
QualityManager = Annotated[Principal, require_ui(P.QUALITY_MANAGE)]
HUB = "/quality"
#: Days ahead within which a calibration or a material's expiry is "due soon" on the hub and the registers.
DUE_SOON_DAYS = 30
#: At most this many charts on the QC page (the rest are chosen by the selector).
MAX_CHARTS = 12


# ------------------------------------------------------------------------------------------ helpers


def inline_svg(data: bytes) -> Markup:
    """A server-drawn SVG (lims.pt.charts) for inlining in a page: the XML prolog dropped, scaled to the
    width of the screen (the viewBox keeps the proportions). Its texts are escaped by the renderer."""
    text = data.decode("utf-8")
    svg = text[text.find("<svg"):]
    return Markup(re.sub(r"^<svg ", '<svg class="chart" role="img" style="max-width:100%;height:auto" ', svg,
                         count=1))


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's text fields (files are not read here)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def date_of(form: dict[str, str], name: str, *, required: bool = True) -> dt.date | None:
    """A date field (YYYY-MM-DD, as an <input type="date"> sends it); refused in the user's words."""
    raw = form.get(name, "")
    if not raw:
        if required:
            raise InvalidInput(f"{name} is missing", field=name, code="quality.missing_text")
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}: not a date (YYYY-MM-DD): {raw[:40]!r}", field=name,
                           code="ui.bad_date") from None


def act(factory: sessionmaker[Session], me: Principal, reason: str, fn: Callable[[Session], Any]
        ) -> dict[str, Any] | None:
    """Run one write in its unit of work: None when done, else the refusal as shown on a page."""
    try:
        run_service(factory, me.username, reason, fn)
    except HTTPException as e:
        return ui_error(e.status_code, e.detail)
    return None


# ------------------------------------------------------------------------------------------ the hub


def _hub_counts(s: Session) -> dict[str, Any]:
    today = utcnow().date()
    open_ncs = [n for n in ncs.list_ncs(s) if n.status != NonconformityStatus.CLOSED]
    horizon = today + dt.timedelta(days=DUE_SOON_DAYS)
    instruments = ins.schedule(s, within_days=DUE_SOON_DAYS)
    st = queue.status(s)
    return {
        "ncs_open": len(open_ncs), "overdue": len(ncs.overdue(s)),
        "instruments_unfit": sum(1 for f in instruments if not f.may_feed),
        "instruments_due": sum(1 for f in instruments if f.may_feed and f.calibration_due is not None
                               and f.calibration_due <= horizon),
        "materials_expired": sum(1 for lot in mat.list_lots(s) if mat.usable_until(lot) < today),
        "materials_expiring": len([lot for lot in mat.list_lots(s, expiring_within_days=DUE_SOON_DAYS)
                                   if mat.usable_until(lot) >= today]),
        "charts": len(qcruns.chart_keys(s)), "dead_letters": st.dead_letter, "pending": st.pending,
    }


@router.get(HUB, response_class=HTMLResponse)
def quality_hub(request: Request, me: QualityPage, factory: FactoryDep) -> HTMLResponse:
    return render(request, me, "ui_quality.html", HUB, counts=read_service(factory, _hub_counts),
                  due_days=DUE_SOON_DAYS)


# ------------------------------------------------------------------------------------------ QC charts


def _charts(s: Session, wanted: tuple[str, str, str, str] | None) -> dict[str, Any]:
    from lims.quality.charts import levey_jennings_svg  # reportlab: with the first chart, not the web app

    keys = qcruns.chart_keys(s)
    shown = [k for k in keys if wanted is None or k == wanted][:MAX_CHARTS]
    charts = []
    for material, analyte, instrument, level in shown:
        points = qcruns.chart_points(s, material=material, analyte=analyte, instrument=instrument, level=level)
        title = f"{material} / {analyte} / {level}{' / ' + instrument if instrument else ''}"
        charts.append({"material": material, "analyte": analyte, "instrument": instrument, "level": level,
                       "svg": inline_svg(levey_jennings_svg(points, title=f"{title} Levey-Jennings")),
                       "n": len(points), "rejected": [p for p in points if not p.accepted][-10:],
                       "mean": points[-1].mean if points else None, "sd": points[-1].sd if points else None})
    return {"keys": keys, "charts": charts, "more": len(keys) > len(shown)}


def _series(keys: list[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """The charts grouped by control material, analyte and instrument, with their levels (one QC run form each)."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for m, a, i, lv in keys:
        out.setdefault((m, a, i), []).append(lv)
    return [{"material": m, "analyte": a, "instrument": i, "levels": lvs} for (m, a, i), lvs in out.items()]


def _qc_page(request: Request, me: Principal, factory: sessionmaker[Session], wanted: tuple[str, str, str, str] | None,
             *, run: dict[str, Any] | None = None, error: dict[str, Any] | None = None) -> HTMLResponse:
    data = read_service(factory, lambda s: _charts(s, wanted))
    return render(request, me, "ui_quality_qc.html", HUB, status=error["status"] if error else 200, wanted=wanted,
                  error=error, run=run, series=_series(data["keys"]), can_record=me.can(P.QUALITY_RAISE), **data)


@router.get("/quality/qc", response_class=HTMLResponse)
def qc_charts(request: Request, me: QualityPage, factory: FactoryDep, material: str = "", analyte: str = "",
              instrument: str = "", level: str = "") -> HTMLResponse:
    wanted = (material, analyte, instrument, level) if material and analyte and level else None
    return _qc_page(request, me, factory, wanted)


@router.post("/quality/qc/runs", response_class=HTMLResponse)
async def qc_run(request: Request, me: QualityRaiser, factory: FactoryDep) -> HTMLResponse:
    """Record a QC run and judge it by the Westgard rules (lims.quality.qcruns.record_run, as POST
    /api/v1/quality/qc/runs); a rejection holds the batch named and opens a nonconformity."""
    form = await form_of(request)
    values = [(k.removeprefix("level__"), v) for k, v in form.items() if k.startswith("level__") and v]
    out: dict[str, Any] = {}

    def go(s: Session) -> None:
        if not form.get("code"):
            raise InvalidInput("code is missing", field="code", code="quality.missing_text")
        numbers = []
        for level, raw in values:
            try:
                numbers.append((level, float(raw)))
            except ValueError:
                raise InvalidInput(f"level {level}: not a number: {raw[:40]!r}", field="values",
                                   code="quality.bad_qc_values") from None
        r = qcruns.record_run(s, code=form.get("code", ""), material=form.get("material", ""),
                              analyte=form.get("analyte", ""), instrument=form.get("instrument", ""),
                              method=form.get("method", ""), batch_code=form.get("batch_code") or None,
                              values=numbers, raised_by=me.username)
        out.update(code=r.code, accepted=r.accepted, warnings=list(r.warnings), rejections=list(r.rejections),
                   nonconformity_id=r.nonconformity_id)
    error = act(factory, me, f"QC run {form.get('code', '')}", go)
    return _qc_page(request, me, factory, None, run=None if error else out, error=error)
