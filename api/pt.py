"""Proficiency testing (能力验证) endpoints under /api/v1/pt and the zh-CN result submission form.

Routes call :mod:`lims.pt` services inside ``session_scope`` (the service owns the transaction: a
refused request writes nothing). Service errors become 4xx with ``detail = {"message", "field"}``
(and ``problems`` naming every bad row of a submission). Scores, charts and reports of a round that
is not yet published are shown only to holders of ``pt:manage``. A participant's results come only from the
accounts bound to it (:func:`lims.pt.submissions.check_submitter`; ``pt:manage`` enters them on its behalf),
and it sees only its own until publication. Request bodies: :mod:`api.pt_schemas`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.pages import PDF_RESPONSE
from api.pt_models import (
    CHART_RESPONSE,
    AccountBound,
    Created,
    Enrolled,
    ExternalScoreRecorded,
    HomogeneityOutcome,
    NonconformityAdvanced,
    NonconformityList,
    ParticipationList,
    ParticipationView,
    PerformanceList,
    PtSampleRegistered,
    ResultsAccepted,
    RoundDetail,
    RoundList,
    RoundTransitioned,
    SchemeCreated,
    ScoresView,
    StabilityOutcome,
    SubmissionList,
)
from api.pt_schemas import (
    AccountIn,
    AdvanceIn,
    EnrolIn,
    ExternalScoreIn,
    HomogeneityIn,
    ParticipationIn,
    PtSampleIn,
    ResultsIn,
    RoundIn,
    SchemeIn,
    StabilityIn,
)
from api.schemas import DbId
from api.security import CSRF_FIELD, Permission, Principal, ensure_csrf_cookie, require, require_ui
from api.ui import UiRoute
from lims.csv_export import to_csv
from lims.db.engine import session_scope
from lims.db.models_pt import PtRound, PtSubmission, RoundStatus
from lims.pt import participant, provider, scoring, submissions, views
from lims.pt.submissions import RowProblem, SubmissionIn, SubmissionRejected, parse_row
from lims.services.errors import ServiceError

router = APIRouter(tags=["pt"], route_class=UiRoute)  # UiRoute: its UI form refuses with a page
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
T = TypeVar("T")

Reader = Annotated[Principal, require(Permission.PT_READ)]
Manager = Annotated[Principal, require(Permission.PT_MANAGE)]
Submitter = Annotated[Principal, require(Permission.PT_SUBMIT)]
UiSubmitter = Annotated[Principal, require_ui(Permission.PT_SUBMIT)]


def _run(factory: sessionmaker[Session], me: Principal, reason: str, fn: Callable[[Session], T]) -> T:
    return run_service(factory, me.username, reason, fn)


def _visible(s: Session, code: str, me: Principal) -> PtRound:
    rnd = provider.get_round(s, code)
    if rnd.status != RoundStatus.PUBLISHED and not me.can(Permission.PT_MANAGE):
        raise HTTPException(403, detail={"message": f"round {code} is not published yet", "field": "round_code"})
    return rnd


# ---------------------------------------------------------------------------------------------- provider

@router.get("/api/v1/pt/rounds", summary="能力验证轮次列表 / list PT rounds")
def list_rounds(me: Reader, factory: FactoryDep) -> RoundList:
    return read_service(factory, lambda s: {"items": views.rounds_list(s)})


@router.post("/api/v1/pt/schemes", status_code=201, summary="新建能力验证计划 / create a PT scheme")
def create_scheme(body: SchemeIn, me: Manager, factory: FactoryDep) -> SchemeCreated:
    return _run(factory, me, "create PT scheme",
                lambda s: {"code": provider.create_scheme(s, **body.model_dump()).code})


@router.post("/api/v1/pt/rounds", status_code=201, summary="新建能力验证轮次 / create a PT round")
def create_round(body: RoundIn, me: Manager, factory: FactoryDep) -> RoundDetail:
    specs = [provider.AnalyteSpec(**a.model_dump()) for a in body.analytes]

    def go(s: Session) -> dict[str, Any]:
        provider.create_round(s, scheme_code=body.scheme_code, code=body.code, title=body.title,
                              deadline=body.deadline, analytes=specs, matrix=body.matrix)
        return views.round_view(s, body.code)
    return _run(factory, me, f"create PT round {body.code}", go)


@router.get("/api/v1/pt/rounds/{code}", summary="轮次详情 / a PT round")
def get_round(code: str, me: Reader, factory: FactoryDep) -> RoundDetail:
    return read_service(factory, lambda s: views.round_view(s, code))


@router.post("/api/v1/pt/rounds/{code}/participants", status_code=201, summary="登记参加者 / enrol participants")
def enrol(code: str, body: EnrolIn, me: Manager, factory: FactoryDep) -> Enrolled:
    labs = [provider.LabEntry(**lab.model_dump(exclude={"accounts"})) for lab in body.labs]
    accounts = {lab.lab_code: lab.accounts for lab in body.labs}

    def go(s: Session) -> dict[str, Any]:
        out = provider.enrol_participants(s, code, labs, seed=body.seed)
        for p in out:
            for username in accounts.get(p.lab_code, ()):
                submissions.bind_account(s, code, p.code, username)
        return {"participants": [{"code": p.code, "lab_code": p.lab_code} for p in out],
                "seed": provider.get_round(s, code).code_seed}
    return _run(factory, me, f"enrol participants in {code}", go)


@router.post("/api/v1/pt/rounds/{code}/participants/{participant_code}/accounts", status_code=201,
             summary="绑定参加者账号 / let an account submit for a participant")
def bind_account(code: str, participant_code: str, body: AccountIn, me: Manager, factory: FactoryDep) -> AccountBound:
    return _run(factory, me, f"bind {body.username} to PT participant {participant_code} of {code}", lambda s: {
        "round_code": code, "participant_code": participant_code, "username": body.username,
        "id": submissions.bind_account(s, code, participant_code, body.username).id})


@router.post("/api/v1/pt/rounds/{code}/homogeneity", summary="均匀性检验 / homogeneity study")
def homogeneity(code: str, body: HomogeneityIn, me: Manager, factory: FactoryDep) -> HomogeneityOutcome:
    return _run(factory, me, f"homogeneity {code}/{body.analyte}", lambda s: provider.as_json(
        provider.record_homogeneity(s, code, body.analyte, body.items, sigma_pt=body.sigma_pt)))


@router.post("/api/v1/pt/rounds/{code}/stability", summary="稳定性检验 / stability study")
def stability(code: str, body: StabilityIn, me: Manager, factory: FactoryDep) -> StabilityOutcome:
    return _run(factory, me, f"stability {code}/{body.analyte}", lambda s: provider.as_json(
        provider.record_stability(s, code, body.analyte, body.before, body.after, sigma_pt=body.sigma_pt)))


@router.post("/api/v1/pt/rounds/{code}/results", summary="提交结果（JSON） / submit results")
def submit_json(code: str, body: ResultsIn, me: Submitter, factory: FactoryDep) -> ResultsAccepted:
    rows = [SubmissionIn(**r.model_dump(), line=i) for i, r in enumerate(body.results, start=1)]
    return _run(factory, me, f"submit PT results {code}", lambda s: _submit(s, me, code, rows, "api"))


def _submit(s: Session, me: Principal, code: str, rows: list[SubmissionIn], channel: str) -> dict[str, Any]:
    """Rows of participants bound to ``me`` only (``pt:manage`` enters any participant's on its behalf)."""
    submissions.check_submitter(s, code, rows, user_id=me.user_id, on_behalf=me.can(Permission.PT_MANAGE))
    return _accepted(s, provider.submit_results(s, code, rows, channel=channel))


@router.get("/api/v1/pt/rounds/{code}/submissions", summary="已提交结果 / the results I may see")
def list_submissions(code: str, me: Submitter, factory: FactoryDep) -> SubmissionList:
    """Before publication a participant sees only its own results; the provider (``pt:manage``) sees all."""
    return read_service(factory, lambda s: {"items": submissions.visible_submissions(
        s, code, user_id=me.user_id, everyone=me.can(Permission.PT_MANAGE))})


def _accepted(s: Session, subs: list[PtSubmission]) -> dict[str, Any]:
    """How many results were accepted, and those converted to the analyte's unit (as submitted → recorded)."""
    conv = provider.unit_conversions(s, subs)
    converted = [{"line": i, "as_submitted": conv[sub.id], "result": sub.result, "unit": sub.unit}
                 for i, sub in enumerate(subs, start=1) if sub.id in conv]
    return {"accepted": len(subs), "converted": converted}


@router.post("/api/v1/pt/rounds/{code}/results.csv", summary="上传结果 CSV / upload results as CSV")
async def submit_csv(code: str, me: Submitter, factory: FactoryDep,
                     file: Annotated[UploadFile, File(description="participant_code,analyte,result,unit,...")]
                     ) -> ResultsAccepted:
    data = await file.read()

    def go(s: Session) -> dict[str, Any]:
        return _submit(s, me, code, submissions.parse_submission_csv(data), "csv")
    return _run(factory, me, f"upload PT results {code}", go)


# declared after /results and /results.csv, which the {action} pattern would otherwise shadow
@router.post("/api/v1/pt/rounds/{code}/{action}", summary="开始/截止/评价/发布 / open, close, score, publish")
def transition(code: str, action: Literal["open", "close", "score", "publish"], me: Manager,
               factory: FactoryDep) -> RoundTransitioned:
    def go(s: Session) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if action == "open":
            provider.open_round(s, code)
        elif action == "close":
            provider.close_round(s, code)
        elif action == "publish":
            provider.publish_round(s, code)
        else:
            r = scoring.score_round(s, code)
            doc = {"scores": r.scores, "satisfactory": r.satisfactory, "questionable": r.questionable,
                   "unsatisfactory": r.unsatisfactory, "en_actions": r.en_actions,
                   "false_negatives": r.false_negatives, "false_positives": r.false_positives}
        return {"code": code, "status": provider.get_round(s, code).status, **doc}
    return _run(factory, me, f"{action} PT round {code}", go)


@router.get("/api/v1/pt/rounds/{code}/scores", summary="评价结果 / scores")
def get_scores(code: str, me: Reader, factory: FactoryDep, participant_code: str | None = None) -> ScoresView:
    def q(s: Session) -> dict[str, Any]:
        _visible(s, code, me)
        return views.scores_view(s, code, participant_code=participant_code)
    return read_service(factory, q)


#: Columns of the scores spreadsheet (one row per submitted result).
SCORE_COLUMNS = ("participant_code", "analyte", "result", "unit", "method", "loq", "expanded_uncertainty",
                 "coverage_factor", "recovery_percent", "statistic", "score", "classification", "z", "z_prime",
                 "zeta", "en", "d", "d_percent", "detection")


@router.get("/api/v1/pt/rounds/{code}/scores.csv", summary="评价结果表格 / scores as CSV",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}})
def get_scores_csv(code: str, me: Reader, factory: FactoryDep) -> Response:
    """The round's scores for a spreadsheet: text cells that would start a formula are neutralised."""
    def q(s: Session) -> str:
        rnd = _visible(s, code, me)
        return to_csv(SCORE_COLUMNS, views.score_rows(s, rnd))
    return Response(read_service(factory, q), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}_scores.csv"'})


@router.get("/api/v1/pt/rounds/{code}/charts/{analyte}/{kind}.{fmt}", summary="图 / z chart or histogram",
            responses=CHART_RESPONSE)
def chart(code: str, analyte: str, kind: Literal["z", "histogram"], fmt: Literal["svg", "png"], me: Reader,
          factory: FactoryDep, highlight: str | None = None) -> Response:
    from lims.pt import charts  # reportlab: loaded with the first chart, not with the web app

    def q(s: Session) -> Response:
        rnd = _visible(s, code, me)
        a = provider.round_analyte(rnd, analyte)
        rows = [r for r in views.score_rows(s, rnd) if r["analyte"] == analyte]
        if kind == "z":
            d = charts.z_score_chart([(r["participant_code"], r["score"]) for r in rows if r["score"] is not None],
                                     highlight=highlight, statistic=a.statistic or "z",
                                     title=f"{a.name_zh or a.code} {a.statistic or 'z'}")
        else:
            own = next((r["result"] for r in rows if r["participant_code"] == highlight), None)
            d = charts.histogram_chart([r["result"] for r in rows if r["result"] is not None],
                                       assigned_value=a.assigned_value, sigma_pt=a.sigma_pt, unit=a.unit,
                                       title=a.name_zh or a.code, highlight_value=own)
        if fmt == "svg":
            return Response(charts.to_svg(d), media_type="image/svg+xml")
        return Response(charts.to_png(d), media_type="image/png")
    return read_service(factory, q)


@router.get("/api/v1/pt/rounds/{code}/reports/{name}.pdf", summary="PDF 报告 / participant or summary report",
            responses=PDF_RESPONSE)
def report_pdf(code: str, name: str, me: Reader, factory: FactoryDep) -> Response:
    from lims.pt import reports  # reportlab: loaded with the first PDF, not with the web app

    def q(s: Session) -> Response:
        rnd = _visible(s, code, me)
        if name != "summary" and not me.can(Permission.PT_MANAGE) and name not in submissions.bound_codes(
                s, rnd.id, me.user_id):  # a participant's own report is its own (the summary is for everyone)
            raise HTTPException(403, detail={"message": f"participant {name} is not bound to your account",
                                             "field": "name", "code": "pt.participant_not_bound"})
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.pdf"
            if name == "summary":
                reports.render_summary_report(s, code, path)
            else:
                reports.render_participant_report(s, code, name, path)
            data = path.read_bytes()
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{code}_{name}.pdf"'})
    return read_service(factory, q)


# ---------------------------------------------------------------------------------------------- participant

@router.post("/api/v1/pt/participations", status_code=201, summary="登记参加的能力验证 / record a participation")
def create_participation(body: ParticipationIn, me: Manager, factory: FactoryDep) -> Created:
    return _run(factory, me, f"record PT participation {body.round_code}",
                lambda s: {"id": participant.record_participation(s, **body.model_dump()).id})


@router.get("/api/v1/pt/participations", summary="参加的能力验证 / participations with scores and nonconformities")
def list_participations(me: Reader, factory: FactoryDep) -> ParticipationList:
    return read_service(factory, lambda s: {"items": views.participations_view(s)})


@router.get("/api/v1/pt/participations/{participation_id}", summary="一次能力验证参加记录 / a participation")
def get_participation(participation_id: DbId, me: Reader, factory: FactoryDep) -> ParticipationView:
    return read_service(factory, lambda s: views.participation_view(s, participation_id))


@router.post("/api/v1/pt/participations/{participation_id}/sample", status_code=201,
             summary="登记能力验证样品 / register the PT sample as a normal sample")
def register_pt_sample(participation_id: DbId, body: PtSampleIn, me: Manager, factory: FactoryDep) -> PtSampleRegistered:
    def go(s: Session) -> dict[str, Any]:
        sample = participant.register_pt_sample(
            s, participation_id, **{**body.model_dump(), "requested": [tuple(r) for r in body.requested]})
        return {"participation_id": participation_id, "sample_code": sample.code, "status": sample.status}
    return _run(factory, me, f"register PT sample {body.code}", go)


@router.post("/api/v1/pt/participations/{participation_id}/scores", status_code=201,
             summary="登记组织者反馈的得分 / record a score reported back")
def create_external_score(participation_id: DbId, body: ExternalScoreIn, me: Manager,
                          factory: FactoryDep) -> ExternalScoreRecorded:
    def go(s: Session) -> dict[str, Any]:
        cmd = participant.RecordExternalScore(**body.model_dump())
        row = participant.record_external_score(s, participation_id, cmd)
        return {"id": row.id, "statistic": row.statistic, "z": row.z, "en": row.en,
                "classification": row.classification, "nonconformity_id": row.nonconformity_id}
    return _run(factory, me, f"record PT score {body.analyte}", go)


@router.get("/api/v1/pt/performance", summary="能力验证历史表现 / running performance per analyte")
def performance(me: Reader, factory: FactoryDep, analyte: str | None = None,
                window: Annotated[int, Query(ge=1, le=50)] = 5) -> PerformanceList:
    return read_service(factory, lambda s: {"items": [
        {**p.__dict__, "round_date": p.round_date.isoformat()}
        for p in participant.running_performance(s, analyte=analyte, window=window)]})


@router.get("/api/v1/pt/performance/chart", summary="得分趋势图 / a lab's scores over time for one analyte",
            responses=CHART_RESPONSE)
def performance_chart(me: Reader, factory: FactoryDep, analyte: Annotated[str, Query(min_length=1)],
                      fmt: Annotated[Literal["svg", "png"], Query(alias="format")] = "svg",
                      window: Annotated[int, Query(ge=1, le=50)] = 5, lab_code: str | None = None) -> Response:
    from lims.pt import charts

    def q(s: Session) -> Response:
        d = participant.performance_chart(s, analyte, window=window, lab_code=lab_code)
        if fmt == "svg":
            return Response(charts.to_svg(d), media_type="image/svg+xml")
        return Response(charts.to_png(d), media_type="image/png")
    return read_service(factory, q)


@router.get("/api/v1/pt/nonconformities", summary="不符合项 / nonconformities")
def nonconformities(me: Reader, factory: FactoryDep, status: str | None = None) -> NonconformityList:
    return read_service(factory, lambda s: {"items": [
        {"id": n.id, "source": n.source, "source_ref": n.source_ref, "description": n.description,
         "status": n.status, "owner": n.owner, "due_date": n.due_date.isoformat() if n.due_date else None}
        for n in participant.list_nonconformities(s, status=status)]})


@router.post("/api/v1/pt/nonconformities/{nc_id}/advance", summary="推进不符合项 / advance a nonconformity")
def advance(nc_id: DbId, body: AdvanceIn, me: Manager, factory: FactoryDep) -> NonconformityAdvanced:
    return _run(factory, me, f"nonconformity {nc_id} → {body.status}",
                lambda s: {"id": nc_id, "status": participant.advance_nonconformity(
                    s, nc_id, body.status, note=body.note).status})


# ---------------------------------------------------------------------------------------------- web form

FORM_FIELDS = ("result", "loq", "expanded_uncertainty", "coverage_factor", "recovery_percent")


def _form_page(request: Request, response_status: int, factory: sessionmaker[Session], code: str,
               *, values: dict[str, str], problems: list[RowProblem], accepted: int | None) -> HTMLResponse:
    rnd_doc = read_service(factory, lambda s: views.round_view(s, code))
    holder = Response()
    token = ensure_csrf_cookie(request, holder)
    page = TEMPLATES.TemplateResponse(request, "pt_submit.html", {
        "round": rnd_doc, "values": values, "problems": problems, "accepted": accepted,
        "status_zh": views.STATUS_ZH, "csrf_field": CSRF_FIELD, "csrf": token}, status_code=response_status)
    page.raw_headers.extend(h for h in holder.raw_headers if h[0] == b"set-cookie")
    return page


@router.get("/pt/rounds/{code}/submit", response_class=HTMLResponse, include_in_schema=False)
def submit_form(code: str, request: Request, me: UiSubmitter, factory: FactoryDep) -> HTMLResponse:
    return _form_page(request, 200, factory, code, values={}, problems=[], accepted=None)


@router.post("/pt/rounds/{code}/submit", response_class=HTMLResponse, include_in_schema=False)
async def submit_form_post(code: str, request: Request, me: UiSubmitter, factory: FactoryDep) -> HTMLResponse:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    rnd_doc = read_service(factory, lambda s: views.round_view(s, code))
    problems: list[RowProblem] = []
    rows: list[SubmissionIn] = []
    for i, a in enumerate(rnd_doc["analytes"], start=1):
        fields = {f: values.get(f"{f}__{a['code']}", "") for f in FORM_FIELDS}
        if not any(fields.values()):
            continue  # analyte not in this lab's scope
        row = parse_row({"participant_code": values.get("participant_code", ""), "analyte": a["code"],
                         "unit": a["unit"], "method": values.get("method", ""), **fields}, i, problems)
        if row is not None:
            rows.append(row)
    accepted = None
    if not problems and not rows:
        problems.append(RowProblem(None, "result", "请至少填写一个分析物的结果 / enter at least one result"))
    if not problems:
        try:
            with session_scope(factory, actor=me.username, reason=f"web submission {code}") as s:
                submissions.check_submitter(s, code, rows, user_id=me.user_id,
                                            on_behalf=me.can(Permission.PT_MANAGE))
                accepted = len(provider.submit_results(s, code, rows, channel="web"))
        except SubmissionRejected as e:
            problems = list(e.problems)
        except ServiceError as e:
            problems = [RowProblem(None, e.field or "round_code", str(e))]
    return _form_page(request, 422 if problems else 200, factory, code, values=values, problems=problems,
                      accepted=accepted)
