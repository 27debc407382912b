"""Proficiency testing (能力验证, ISO/IEC 17043 and ISO 13528:2022) as provider and as participant.

- ``/pt``: the rounds this lab runs as provider, and the rounds it took part in (participations) with the
  scores the providers reported back, the nonconformities an unsatisfactory score opened, and the lab's score
  trend per analyte (running RSZ, ISO 13528:2022 9.9); forms (``pt:manage``) to create a round and to record a
  participation with its scores.
- ``/pt/rounds/{code}``: a round with its analytes (x_pt, σ_pt and how they were set), participants, the
  scores as :mod:`lims.pt.scoring` computed them (z, z′, ζ, E_n, D %), the bar chart of scores and the
  histogram per analyte drawn on the server (:mod:`lims.pt.charts`, inline SVG), the PDF reports, and the
  provider's steps (enrol, open, close, score, publish).

Scores and charts of a round not yet published are shown only to ``pt:manage`` (the same rule as the API);
a participant sees its own report only (``lims.pt.submissions.bound_codes``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service
from api.security import Principal, require_ui
from api.ui import pt_homogeneity
from api.ui.base import P, PtPage, area_router, not_found, render
from api.ui.quality import act, date_of, form_of, inline_svg
from lims.pt import participant, provider, scoring, submissions, views
from lims.services import signoff
from lims.services.errors import InvalidInput, NotFound
from lims.services.lookup import code_exists
from lims.vocabulary import RoundStatus

router = area_router()
router.routes.extend(pt_homogeneity.router.routes)  # /pt/rounds/{code}/homogeneity: Annex B studies (pt:manage)
PtManager = Annotated[Principal, require_ui(P.PT_MANAGE)]
#: What the page says after an action (?done=).
DONE = {"created": ("已新建轮次", "round created"), "enrolled": ("已登记参加者", "participants enrolled"),
        "open": ("已开始接收结果", "round opened"), "close": ("已截止", "round closed"),
        "score": ("已完成评价", "round scored"), "publish": ("已发布评价结果", "results published"),
        "participation": ("已登记参加记录", "participation recorded"), "score-recorded": ("已登记得分", "score recorded")}
#: Classification of a score (ISO 13528:2022 9.4) → CSS class of the page.
CLASS_CSS = {"satisfactory": "ok", "questionable": "warn", "unsatisfactory": "bad"}


# ------------------------------------------------------------------------------------------ the list


def _performance(s: Session, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    analytes = sorted({sc["analyte"] for p in parts for sc in p["scores"]})
    if not analytes:
        return []
    from lims.pt import charts  # reportlab: loaded with the first chart, not with the web app

    out = []
    for a in analytes[:8]:
        try:
            out.append({"analyte": a, "svg": inline_svg(charts.to_svg(participant.performance_chart(s, a)))})
        except (NotFound, InvalidInput):
            continue
    return out


def _pt_list(s: Session) -> dict[str, Any]:
    parts = views.participations_view(s)
    return {"rounds": views.rounds_list(s, newest_first=True, limit=200), "participations": parts[::-1],
            "trends": _performance(s, parts)}


def _list_page(request: Request, me: Principal, factory: sessionmaker[Session], *, done: str = "",
               error: dict[str, Any] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, me, "ui_pt.html", "/pt", status=error["status"] if error else 200, error=error,
                  form=form or {}, done=DONE.get(done), can_submit=me.can(P.PT_SUBMIT),
                  can_manage=me.can(P.PT_MANAGE), class_css=CLASS_CSS, class_zh=views.CLASS_ZH,
                  **read_service(factory, _pt_list))


@router.get("/pt", response_class=HTMLResponse)
def pt_page(request: Request, me: PtPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _list_page(request, me, factory, done=done[:20])


def _number(raw: str, field: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(f"{field}: not a number: {raw[:40]!r}", field=field, code="quality.bad_value") from None


def analyte_specs(text: str) -> list[provider.AnalyteSpec]:
    """Analytes of a new round, one a line: ``code, 中文名, unit, MRRL`` (unit and MRRL may be left out:
    mg/kg and 0.01)."""
    specs = []
    for i, line in enumerate(x for x in text.splitlines() if x.strip()):
        cells = [c.strip() for c in line.replace("，", ",").split(",")]
        cells += [""] * (4 - len(cells))
        specs.append(provider.AnalyteSpec(code=cells[0], name_zh=cells[1], unit=cells[2] or "mg/kg",
                                          mrrl=_number(cells[3] or "0.01", f"analytes[{i}].mrrl")))
    return specs


def _deadline(raw: str) -> dt.datetime:
    """A deadline from <input type="datetime-local">, in Beijing time."""
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=signoff.TZ_CHINA)
    except ValueError:
        raise InvalidInput(f"deadline: not a date and time: {raw[:40]!r}", field="deadline",
                           code="ui.bad_date") from None


@router.post("/pt/rounds", response_class=HTMLResponse)
async def create_round(request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    code = form.get("code", "")

    def go(s: Session) -> None:
        scheme = form.get("scheme_code", "")
        if scheme and not code_exists(s, provider.PtScheme, scheme):
            provider.create_scheme(s, code=scheme, name=form.get("scheme_name") or scheme,
                                   provider_name=form.get("provider_name", ""))
        provider.create_round(s, scheme_code=scheme, code=code, title=form.get("title", ""),
                              deadline=_deadline(form.get("deadline", "")), matrix=form.get("matrix", ""),
                              analytes=analyte_specs(form.get("analytes", "")))
    error = act(factory, me, f"create PT round {code}", go)
    if error:
        return _list_page(request, me, factory, error=error, form=form)
    return RedirectResponse(f"/pt/rounds/{code}?done=created", status_code=303)


@router.post("/pt/participations", response_class=HTMLResponse)
async def record_participation(request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form = await form_of(request)

    def go(s: Session) -> None:
        day = date_of(form, "round_date")
        assert day is not None
        participant.record_participation(s, provider_name=form.get("provider_name", ""),
                                         round_code=form.get("round_code", ""), round_date=day,
                                         scheme_name=form.get("scheme_name", ""),
                                         participant_code=form.get("participant_code", ""),
                                         responsible=form.get("responsible", ""))
    error = act(factory, me, f"record PT participation {form.get('round_code', '')}", go)
    if error:
        return _list_page(request, me, factory, error=error, form=form)
    return RedirectResponse("/pt?done=participation", status_code=303)


@router.post("/pt/participations/{participation_id}/scores", response_class=HTMLResponse)
async def record_score(participation_id: int, request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form = await form_of(request)

    def opt(name: str) -> float | None:
        return _number(form[name], name) if form.get(name) else None

    def go(s: Session) -> None:
        cmd = participant.RecordExternalScore(
            analyte=form.get("analyte", ""), result=_number(form.get("result", ""), "result"),
            assigned_value=_number(form.get("assigned_value", ""), "assigned_value"),
            sigma_pt=_number(form.get("sigma_pt", ""), "sigma_pt"), unit=form.get("unit") or "mg/kg",
            u_assigned=opt("u_assigned"), expanded_uncertainty=opt("expanded_uncertainty"),
            owner=form.get("owner") or None)
        participant.record_external_score(s, participation_id, cmd)
    error = act(factory, me, f"record PT score {form.get('analyte', '')}", go)
    if error:
        return _list_page(request, me, factory, error=error, form=form)
    return RedirectResponse("/pt?done=score-recorded", status_code=303)


# ------------------------------------------------------------------------------------------ a round


def _charts(rnd: Any, rows: list[dict[str, Any]], highlight: str | None) -> list[dict[str, Any]]:
    from lims.pt import charts  # reportlab: loaded with the first chart, not with the web app

    out = []
    for a in rnd.analytes:
        mine = [r for r in rows if r["analyte"] == a.code]
        scored = [(r["participant_code"], r["score"]) for r in mine if r["score"] is not None]
        values = [r["result"] for r in mine if r["result"] is not None]
        if not scored and not values:
            continue
        own = next((r["result"] for r in mine if r["participant_code"] == highlight), None)
        z = charts.z_score_chart(scored, highlight=highlight, statistic=a.statistic or "z",
                                 title=f"{a.name_zh or a.code} {a.statistic or 'z'}") if scored else None
        hist = charts.histogram_chart(values, assigned_value=a.assigned_value, sigma_pt=a.sigma_pt, unit=a.unit,
                                      title=a.name_zh or a.code, highlight_value=own) if len(values) >= 2 else None
        out.append({"code": a.code, "name_zh": a.name_zh, "z": inline_svg(charts.to_svg(z)) if z else None,
                    "hist": inline_svg(charts.to_svg(hist)) if hist else None})
    return out


def _round(s: Session, code: str, me: Principal) -> dict[str, Any]:
    rnd = provider.get_round(s, code)
    manager = me.can(P.PT_MANAGE)
    own = submissions.bound_codes(s, rnd.id, me.user_id)
    visible = manager or rnd.status == RoundStatus.PUBLISHED
    parts = provider.participants(s, rnd)
    rows = views.score_rows(s, rnd) if visible else []
    highlight = next(iter(own)) if len(own) == 1 else None
    return {
        "round": views.round_view(s, code), "visible": visible, "own": sorted(own),
        "analyte_names": {a.code: a.name_zh for a in rnd.analytes},
        "analytes_text": {a.code: {"sigma": views.sigma_method_text(a),
                                   "assigned": views.ASSIGNED_ZH.get(a.assigned_method, a.assigned_method)}
                          for a in rnd.analytes},
        "participants": [views.participant_view(p, with_identity=manager) for p in parts
                         if visible or p.code in own],
        "scores": rows, "outliers": views.outliers(rows) if visible else [],
        "charts": _charts(rnd, rows, highlight) if visible else [],
        "reports": (["summary"] + ([p.code for p in parts] if manager else sorted(own)))
        if visible and rnd.status in (RoundStatus.SCORED, RoundStatus.PUBLISHED) else [],
    }


def _round_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, done: str = "",
                error: dict[str, Any] | None = None) -> HTMLResponse:
    data = pt_homogeneity.read_or_not_found(request, me, factory, lambda s: _round(s, code, me),
                                            f"能力验证轮次 {code} / PT round {code}")
    if isinstance(data, HTMLResponse):
        return data
    return render(request, me, "ui_pt_round.html", "/pt", status=error["status"] if error else 200, error=error,
                  done=DONE.get(done), can_manage=me.can(P.PT_MANAGE), can_submit=me.can(P.PT_SUBMIT),
                  class_css=CLASS_CSS, class_zh=views.CLASS_ZH, detection_zh=views.DETECTION_ZH,
                  outlier_zh=views.OUTLIER_KIND_ZH, **data)


@router.get("/pt/rounds/{code}", response_class=HTMLResponse)
def round_page(code: str, request: Request, me: PtPage, factory: FactoryDep, done: str = "") -> HTMLResponse:
    return _round_page(request, me, factory, code, done=done[:20])


def lab_entries(text: str) -> list[provider.LabEntry]:
    """Laboratories to enrol, one a line: ``lab code, lab name[, contact]``."""
    out = []
    for line in (x for x in text.splitlines() if x.strip()):
        cells = [c.strip() for c in line.replace("，", ",").split(",")] + ["", ""]
        out.append(provider.LabEntry(cells[0], cells[1], cells[2]))
    return out


@router.post("/pt/rounds/{code}/participants", response_class=HTMLResponse)
async def enrol(code: str, request: Request, me: PtManager, factory: FactoryDep) -> Response:
    form = await form_of(request)
    username = form.get("username", "")

    def go(s: Session) -> None:
        labs = lab_entries(form.get("labs", ""))
        if not labs:
            raise InvalidInput("no laboratory listed", field="labs", code="quality.missing_text")
        for p in provider.enrol_participants(s, code, labs):
            if username and len(labs) == 1:
                submissions.bind_account(s, code, p.code, username)
    error = act(factory, me, f"enrol participants in {code}", go)
    if error:
        return _round_page(request, me, factory, code, error=error)
    return RedirectResponse(f"/pt/rounds/{code}?done=enrolled", status_code=303)


@router.post("/pt/rounds/{code}/step/{step}", response_class=HTMLResponse)
def round_step(code: str, step: str, request: Request, me: PtManager, factory: FactoryDep) -> Response:
    steps: dict[str, Callable[[Session], Any]] = {
        "open": lambda s: provider.open_round(s, code), "close": lambda s: provider.close_round(s, code),
        "score": lambda s: scoring.score_round(s, code), "publish": lambda s: provider.publish_round(s, code)}
    if step not in steps:
        return not_found(request, me, "/pt", step)
    error = act(factory, me, f"{step} PT round {code}", steps[step])
    if error:
        return _round_page(request, me, factory, code, error=error)
    return RedirectResponse(f"/pt/rounds/{code}?done={step}", status_code=303)
