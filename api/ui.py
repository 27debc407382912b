"""The lab's web UI: zh-CN first, English second; server-rendered HTML, no JavaScript framework.

Pages read through :mod:`lims.services.queries` and the models; every write goes through the same service
as the REST API (:mod:`lims.services.signoff`, :mod:`lims.services.reporting`) in one unit of work
(:func:`api.deps.run_service`), so a refused request signs or writes nothing. Every route declares its
permission with :func:`api.security.require_ui` (anonymous visitors go to /login); cookie-authenticated
POSTs are CSRF-checked by that dependency (double-submit field ``csrf_token``). A signed-in user refused
by it (missing permission, stale CSRF token) gets a zh-CN page with status 403 (:class:`UiRoute`), not the
API's JSON.

Refusals are shown in Chinese by their stable ``code`` (:data:`ERROR_ZH`, lims.services.errors), never by
the wording of the English message, which follows in small print.

Wherever a result is shown, so are its e-signature manifestations — printed name, date-time with the
time zone and the meaning of the signature (21 CFR 11.50(a); ISO/IEC 17025:2017 7.5.1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import (
    CSRF_FAILED,
    CSRF_FIELD,
    ROLE_PERMISSIONS,
    AccessRefused,
    Permission,
    PermissionRefused,
    Principal,
    ensure_csrf_cookie,
    require_ui,
)
from drivers.errors import DriverError
from lims.config import get_settings
from lims.db.models import (
    Analysis,
    AuditEvent,
    Batch,
    CalibrationCurve,
    CustodyEvent,
    Instrument,
    Method,
    MonitoringTask,
    QcSample,
    RawCapture,
    Report,
    Result,
    ResultStatus,
    Role,
    Sample,
    SampleStatus,
)
from lims.db.models_pt import PtRound
from lims.db.verify import verify_database
from lims.pt import views as pt_views
from lims.services import queries, reporting, signoff
from lims.services.acquisition import reparse_instrument
from lims.services.errors import NotFound
from lims.services.sampling import PRODUCER_KINDS, PROGRAMME_TYPES, SAMPLING_LINKS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
P = Permission

SamplesPage = Annotated[Principal, require_ui(P.SAMPLES_READ)]
SampleDetailPage = Annotated[Principal, require_ui(P.SAMPLES_READ, P.RESULTS_READ)]
ResultsPage = Annotated[Principal, require_ui(P.RESULTS_READ)]
Reviewer = Annotated[Principal, require_ui(P.RESULTS_REVIEW)]
Approver = Annotated[Principal, require_ui(P.RESULTS_APPROVE)]
ReportsPage = Annotated[Principal, require_ui(P.REPORTS_READ)]
ReportIssuer = Annotated[Principal, require_ui(P.REPORTS_ISSUE)]
PtPage = Annotated[Principal, require_ui(P.PT_READ)]
InstrumentsPage = Annotated[Principal, require_ui(P.INSTRUMENTS_READ)]
InstrumentsWriter = Annotated[Principal, require_ui(P.INSTRUMENTS_WRITE)]
AuditPage = Annotated[Principal, require_ui(P.AUDIT_READ)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
PAGE_SIZE = 50
QUEUE_SIZE = 200
AUDIT_PAGE_SIZE = 100

# ------------------------------------------------------------------------------------------ vocabulary

#: Navigation: (Chinese, English caption, path, permission needed to see the item).
NAV = (("样品", "Samples", "/samples", P.SAMPLES_READ), ("待审核", "Review", "/review", P.RESULTS_READ),
       ("批次", "Batches", "/batches", P.RESULTS_READ), ("报告", "Reports", "/reports", P.REPORTS_READ),
       ("能力验证", "PT", "/pt", P.PT_READ), ("仪器", "Instruments", "/instruments", P.INSTRUMENTS_READ),
       ("审计", "Audit", "/audit", P.AUDIT_READ))
SAMPLE_STATUS_ZH = {"registered": "已登记", "received": "已接收", "in_analysis": "检测中", "to_be_reviewed": "待审核",
                    "reviewed": "已审核", "approved": "已批准", "reported": "已出报告", "rejected": "已退回",
                    "retest": "待复检", "amended": "已更正"}
RESULT_STATUS_ZH = {"to_be_reviewed": "待审核", "reviewed": "已审核", "certified": "已批准", "reported": "已出报告",
                    "rejected": "已退回", "retest": "复检", "superseded": "已被更正版本替代"}
VERDICT_ZH = {"compliant": "合格", "non_compliant": "不合格", "compliant_within_uncertainty": "合格（在不确定度范围内）",
              "not_evaluated": "未判定", "banned_substance_detected": "检出禁用药物",
              "screen_negative": "筛查阴性", "screen_positive": "筛查阳性（需确证）", "screen_invalid": "筛查无效"}
ANALYSIS_STATUS_ZH = {"pending": "待检测", "in_analysis": "检测中", "to_be_reviewed": "已出结果", "rejected": "已退回"}
QUALITATIVE_ZH = {"negative": "阴性", "positive": "阳性", "invalid": "无效"}
ANALYSIS_KIND_ZH = {"screening": "快速筛查", "confirmatory": "确证检测"}
BATCH_STATUS_ZH = {"open": "进行中", "qc_passed": "质控通过", "qc_failed": "质控失败（结果暂停）", "closed": "已关闭"}
QC_KIND_ZH = {"reagent_blank": "试剂空白", "matrix_blank": "基质空白", "spike": "加标回收", "duplicate": "平行样",
              "ccv": "连续校准核查 CCV", "reference_material": "标准物质"}
QC_OUTCOME_ZH = {"pass": "通过", "fail": "不通过", "pending": "待判定"}
CUSTODY_ZH = {"received": "接收", "stored": "入库", "subsampled": "分样", "moved": "流转", "retained": "留样",
              "disposed": "处置"}
REPORT_STATUS_ZH = {"issued": "有效", "superseded": "已被更正报告替代"}
CAPTURE_STATUS_ZH = {"pending": "待解析", "parsed": "已解析", "error": "解析错误", "rejected": "已拒收",
                     "incomplete": "不完整", "duplicate": "重复"}
AUDIT_ACTION_ZH = {"create": "新建", "update": "修改", "delete": "删除", "sign": "签名", "login": "登录"}
#: Confirmation lines after a successful signature (PRG: the POST redirects to /review?done=...).
DONE_ZH = {"review": "已审核签名", "approval": "已批准签发", "rejection": "已退回"}

#: Refusal codes (``detail.code``: lims.services.errors, api.security, the forms below) → the Chinese shown
#: first on the page. tests/api/test_error_codes.py fails on a code raised without an entry here.
ERROR_ZH = {
    "auth.wrong_password": "密码错误，未签名。请重新输入您本人的登录密码",
    CSRF_FAILED: "表单已失效，请刷新页面后重试",
    "signoff.reviewer_is_analyst": "职责分离：审核人不得为该结果的检验人",
    "signoff.approver_not_independent": "职责分离：批准人不得为该结果的检验人或审核人",
    "signoff.no_signatory_authority": "您没有该检测方法的授权签字人资格",
    "signoff.missing_role": "您不具备该签名所需的角色",
    "signoff.not_authored": "检验人尚未签名（检验），不能审核",
    "signoff.rejection_needs_reason": "退回必须填写原因（至少 5 个字）",
    "batch.qc_failed": "批次质控未通过，结果暂停，不能审核",
    "batch.qc_pending": "批次质控尚未判定，结果暂停，不能审核",
    "result.not_to_be_reviewed": "结果不是“待审核”状态",
    "result.not_reviewed": "结果尚未审核，不能批准",
    "result.not_rejectable": "只能退回尚未批准的结果",
    "report.no_certified_results": "该样品没有已批准的结果，不能出具报告",
    "report.needs_amendment_reason": "该样品已有报告；如需更正，请填写更正原因",
    "report.language_invalid": "报告语言只能是中文或英文",
    "report.no_sample_chosen": "请选择样品",
    "ui.no_result_selected": "请至少勾选一条结果",
    "ui.password_required": "电子签名须重新输入您的登录密码",
    "not_found": "记录不存在",
}
#: A refusal without a code (or with one not listed): said plainly, the service's English follows.
GENERIC_ERROR_ZH = "操作未完成，未写入任何数据"
#: Permissions in words (Chinese, English) for the 403 page; the value itself is shown too.
PERMISSION_ZH = {
    P.SAMPLES_READ: ("查看样品", "view samples"), P.SAMPLES_WRITE: ("登记、修改样品", "register and edit samples"),
    P.RESULTS_READ: ("查看检测结果", "view results"), P.RESULTS_ENTER: ("录入检测结果", "enter results"),
    P.RESULTS_REVIEW: ("审核检测结果", "review results"),
    P.RESULTS_APPROVE: ("批准签发检测结果", "approve results"),
    P.REPORTS_READ: ("查看检验报告", "view reports"), P.REPORTS_ISSUE: ("签发检验报告", "issue reports"),
    P.LIMITS_READ: ("查看限量标准", "view MRLs"), P.LIMITS_MANAGE: ("维护限量标准", "manage MRLs"),
    P.PT_READ: ("查看能力验证", "view proficiency testing"), P.PT_SUBMIT: ("提交能力验证结果", "submit PT results"),
    P.PT_MANAGE: ("组织能力验证", "manage PT rounds"), P.AUDIT_READ: ("查看审计追踪", "read the audit trail"),
    P.INSTRUMENTS_READ: ("查看仪器状态", "view instruments"),
    P.INSTRUMENTS_WRITE: ("管理仪器（重新解析等）", "manage instruments (re-parse…)"),
    P.USERS_MANAGE: ("管理用户账户", "manage user accounts"), P.TASKS_READ: ("查看监测任务", "view monitoring tasks"),
    P.TASKS_MANAGE: ("管理监测任务", "manage monitoring tasks"), P.AUTHENTICATED: ("登录", "sign in"),
    P.ACCOUNT_SELF: ("管理本人账户", "manage one's own account"), P.PUBLIC: ("公开访问", "public"),
}
ROLE_ZH: dict[str, str] = {Role.TECHNICIAN: "检验员", Role.REVIEWER: "审核员", Role.APPROVER: "批准人（授权签字人）",
                           Role.QA_MANAGER: "质量负责人", Role.ADMIN: "系统管理员"}
FIELD_ZH = {"password": "密码", "result_ids": "所选结果", "reason": "退回原因", "sample_code": "样品",
            "amendment_reason": "更正原因", "language": "报告语言", "profile": "仪器配置", "code": "编号"}


def local_time(value: Any) -> str:
    """A stored instant as Beijing time with its offset; naive values are UTC (as stored by utcnow)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return str(value)
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    local = aware.astimezone(signoff.TZ_CHINA)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


TEMPLATES.env.filters["local_time"] = local_time
TEMPLATES.env.globals.update(
    sample_status_zh=SAMPLE_STATUS_ZH, result_status_zh=RESULT_STATUS_ZH, verdict_zh=VERDICT_ZH,
    qualitative_zh=QUALITATIVE_ZH, analysis_kind_zh=ANALYSIS_KIND_ZH, analysis_status_zh=ANALYSIS_STATUS_ZH, batch_status_zh=BATCH_STATUS_ZH,
    qc_kind_zh=QC_KIND_ZH, qc_outcome_zh=QC_OUTCOME_ZH, custody_zh=CUSTODY_ZH, report_status_zh=REPORT_STATUS_ZH,
    capture_status_zh=CAPTURE_STATUS_ZH, audit_action_zh=AUDIT_ACTION_ZH, programme_zh=PROGRAMME_TYPES,
    producer_kind_zh=PRODUCER_KINDS, pt_status_zh=pt_views.STATUS_ZH, field_zh=FIELD_ZH, done_zh=DONE_ZH)


# ------------------------------------------------------------------------------------------ helpers


def ui_error(status: int, detail: Any) -> dict[str, Any]:
    """A refused request as shown on a page: {status, field, code, zh, en} — the Chinese of its ``code``
    (:data:`ERROR_ZH`, else :data:`GENERIC_ERROR_ZH`) first, the service's English words after."""
    if isinstance(detail, dict):
        message, field, code = str(detail.get("message", "")), detail.get("field"), detail.get("code")
    else:
        message, field, code = str(detail), None, None
    zh = ERROR_ZH.get(code, GENERIC_ERROR_ZH) if isinstance(code, str) else GENERIC_ERROR_ZH
    head, sep, tail = message.partition(" / ")  # a bilingual message "中文 / English": keep the English
    en = tail if sep and not head.isascii() else message
    return {"status": status, "field": field, "field_zh": FIELD_ZH.get(field or "", field), "code": code,
            "zh": zh, "en": en}


def render(request: Request, me: Principal, template: str, active: str, *, status: int = 200,
           **context: Any) -> HTMLResponse:
    """Render a page in the base layout (navigation, user, logout form with its CSRF token)."""
    holder = Response()
    csrf = ensure_csrf_cookie(request, holder)
    nav = [{"zh": zh, "en": en, "href": href, "active": href == active} for zh, en, href, perm in NAV
           if me.can(perm)]
    page = TEMPLATES.TemplateResponse(request, template, {
        "me": me, "csrf": csrf, "csrf_field": CSRF_FIELD, "nav": nav, "active": active, "P": P, **context},
        status_code=status)
    page.raw_headers.extend(h for h in holder.raw_headers if h[0] == b"set-cookie")
    page.headers["Cache-Control"] = "no-store"  # records of identifiable producers: not for shared caches
    return page


def permission_words(missing: tuple[str, ...]) -> list[dict[str, str]]:
    """Missing permission values in words (zh, en) with the roles that grant each (ROLE_PERMISSIONS)."""
    out = []
    for value in missing:
        perm = Permission(value)
        zh, en = PERMISSION_ZH.get(perm, (value, value))
        roles = [r for r in Role if perm in ROLE_PERMISSIONS.get(r, frozenset())]
        out.append({"value": value, "zh": zh, "en": en, "roles_zh": "、".join(ROLE_ZH[r] for r in roles) or "—",
                    "roles_en": ", ".join(r.value for r in roles) or "none"})
    return out


def refused_page(request: Request, refusal: AccessRefused) -> HTMLResponse:
    """The 403 page of a signed-in user: the permissions missing in words, or the stale form (CSRF)."""
    me = refusal.principal
    assert me is not None
    if isinstance(refusal, PermissionRefused):
        return render(request, me, "ui_forbidden.html", "/", status=403,
                      missing=permission_words(refusal.missing),
                      roles_zh="、".join(ROLE_ZH.get(r, r) for r in sorted(me.roles)) or "无")
    return render(request, me, "ui_error.html", "/", status=403, error=ui_error(403, refusal.detail))


class UiRoute(APIRoute):
    """A route of the web UI: an :class:`~api.security.AccessRefused` raised by ``require_ui`` (or its CSRF
    check) becomes a zh-CN page with status 403; API routes keep the JSON answer. Use it as the router's
    ``route_class`` (FastAPI "custom APIRoute class")."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except AccessRefused as refusal:
                if not refusal.ui or refusal.principal is None:
                    raise
                return refused_page(request, refusal)

        return handle


router = APIRouter(include_in_schema=False, route_class=UiRoute)


def _not_found(request: Request, me: Principal, active: str, what: str) -> HTMLResponse:
    return render(request, me, "ui_error.html", active, status=404,
                  error={"zh": f"未找到：{what}", "en": f"not found: {what}", "status": 404})


def _parse_ids(raw: list[str] | None) -> list[int] | None:
    """Checked result ids from the form, or None when one is not an integer."""
    try:
        return sorted({int(x) for x in raw or []})
    except ValueError:
        return None


def _pager(base: str, params: dict[str, Any], offset: int, limit: int, total: int, exact: bool) -> dict[str, Any]:
    keep = {k: v for k, v in params.items() if v not in (None, "")}
    prev_url = f"{base}?{urlencode(keep | {'offset': max(0, offset - limit)})}" if offset > 0 else None
    next_url = f"{base}?{urlencode(keep | {'offset': offset + limit})}" if offset + limit < total or (
        not exact and offset + limit <= total) else None
    last = min(offset + limit, total) if exact else offset + limit
    return {"first": offset + 1 if total else 0, "last": last, "total": total, "exact": exact,
            "prev": prev_url, "next": next_url}


# ------------------------------------------------------------------------------------------ dashboard


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


# ------------------------------------------------------------------------------------------ samples


@router.get("/samples", response_class=HTMLResponse)
def samples_page(request: Request, me: SamplesPage, factory: FactoryDep,
                 status: Annotated[str, Query(max_length=40)] = "",
                 task: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        found = queries.list_samples(s, status=status or None, task_code=task or None, limit=PAGE_SIZE,
                                     offset=offset)
        tasks = s.execute(select(MonitoringTask.code, MonitoringTask.name).order_by(MonitoringTask.id.desc())
                          .limit(200)).all()
        return {"page": found, "tasks": [{"code": c, "name": n} for c, n in tasks]}
    data = read_service(factory, go)
    page = data["page"]
    return render(request, me, "ui_samples.html", "/samples", samples=page.items, tasks=data["tasks"],
                  status_filter=status, task=task, statuses=list(SampleStatus),
                  pager=_pager("/samples", {"status": status, "task": task}, offset, PAGE_SIZE, page.total,
                               page.total_exact))


def sample_view(s: Session, code: str) -> dict[str, Any]:
    """Everything the sample page shows: sampling record, custody, analyses, results with signatures, reports."""
    sample = s.execute(select(Sample).where(Sample.code == code)).scalar_one_or_none()
    if sample is None:
        raise NotFound(f"sample {code} does not exist", field="code")
    row = queries.sample_row(sample)
    producer = sample.producer
    task = (s.execute(select(MonitoringTask).where(MonitoringTask.code == sample.task_code)).scalar_one_or_none()
            if sample.task_code else None)
    row.update({
        "description": sample.description, "quantity": sample.quantity, "sampled_at": sample.sampled_at,
        "received_at": sample.received_at, "sampling_place": sample.sampling_place,
        "sampling_link": SAMPLING_LINKS.get(sample.sampling_link, sample.sampling_link),
        "certificate_no": sample.certificate_no, "trace_code": sample.trace_code, "samplers": sample.samplers,
        "condition": sample.condition, "commodity_en": sample.commodity.name_en,
        "commodity_category": sample.commodity.category,
        "producer": None if producer is None else {
            "name": producer.name, "credit_code": producer.credit_code, "kind": producer.kind,
            "region_code": producer.region_code, "address": producer.address},
        "task": None if task is None else {"code": task.code, "name": task.name,
                                           "programme_type": task.programme_type,
                                           "issuing_authority": task.issuing_authority}})
    row["custody"] = [{"kind": e.kind, "at": e.at, "actor": e.actor, "location": e.location,
                       "condition": e.condition, "sub_sample_code": e.sub_sample_code, "note": e.note}
                      for e in s.execute(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
                                         .order_by(CustodyEvent.at, CustodyEvent.id)).scalars()]
    batch_codes = dict(s.execute(select(Batch.id, Batch.code).join(Analysis, Analysis.batch_id == Batch.id)
                                 .where(Analysis.sample_id == sample.id)).all())
    row["analyses"] = [{"id": a.id, "analyte": a.analyte.name_zh, "analyte_en": a.analyte.name_en,
                        "method": a.method.code, "standard": a.method.standard, "kind": a.kind,
                        "status": a.status, "batch": batch_codes.get(a.batch_id)}
                       for a in s.execute(select(Analysis).where(Analysis.sample_id == sample.id)
                                          .order_by(Analysis.id)).scalars()]
    row["results"] = queries.list_results(s, sample_code=code, limit=500).items
    row["reports"] = [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "issued_at": r.issued_at}
                      for r in s.execute(select(Report).where(Report.sample_id == sample.id)
                                         .order_by(Report.version)).scalars()]
    return row


@router.get("/samples/{code}", response_class=HTMLResponse)
def sample_page(code: str, request: Request, me: SampleDetailPage, factory: FactoryDep) -> HTMLResponse:
    try:
        sample = read_service(factory, lambda s: sample_view(s, code))
    except HTTPException:
        return _not_found(request, me, "/samples", f"样品 {code} / sample {code}")
    return render(request, me, "ui_sample.html", "/samples", sample=sample)


# ------------------------------------------------------------------------------------------ review


def _review_page(request: Request, me: Principal, factory: sessionmaker[Session], *, status: int = 200,
                 error: dict[str, Any] | None = None, selected: list[int] | None = None,
                 done: str = "", n: int = 0, reason: str = "") -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        pages = {st: queries.list_results(s, status=st, limit=QUEUE_SIZE)
                 for st in (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED)}
        ids = [r["id"] for p in pages.values() for r in p.items]
        batches = {rid: {"code": code, "status": st} for rid, code, st in s.execute(
            select(Result.id, Batch.code, Batch.status).join(Analysis, Analysis.id == Result.analysis_id)
            .join(Batch, Batch.id == Analysis.batch_id).where(Result.id.in_(ids))).all()} if ids else {}
        return {"pages": pages, "batches": batches}
    queues = read_service(factory, go)
    pages = queues["pages"]
    return render(request, me, "ui_review.html", "/review", status=status, error=error, batches=queues["batches"],
                  to_review=pages[ResultStatus.TO_BE_REVIEWED], to_approve=pages[ResultStatus.REVIEWED],
                  selected=set(selected or ()), done=done, n=n, reason=reason,
                  can_review=me.can(P.RESULTS_REVIEW), can_approve=me.can(P.RESULTS_APPROVE))


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, me: ResultsPage, factory: FactoryDep,
                done: Annotated[str, Query(max_length=20)] = "",
                n: Annotated[int, Query(ge=0, le=100_000)] = 0) -> HTMLResponse:
    return _review_page(request, me, factory, done=done if done in DONE_ZH else "", n=n)


def _signed(request: Request, me: Principal, factory: sessionmaker[Session], meaning: str,
            raw_ids: list[str] | None, password: str, sign: Callable[[Session, list[int]], list[Any]], *,
            audit_reason: str, reason: str = "") -> Response:
    """Shared path of the sign forms: validate, sign in one unit of work, or show the refusal (nothing signed)."""
    ids = _parse_ids(raw_ids)
    problem = None
    if not ids:
        problem = ui_error(422, {"message": "select at least one result", "field": "result_ids",
                                 "code": "ui.no_result_selected"})
    elif not password:
        problem = ui_error(422, {"message": "re-enter your password to sign", "field": "password",
                                 "code": "ui.password_required"})
    if problem is not None:
        return _review_page(request, me, factory, status=422, error=problem, selected=ids, reason=reason)
    assert ids is not None
    try:
        n = run_service(factory, me.username, audit_reason, lambda s: len(sign(s, ids)))
    except HTTPException as e:
        return _review_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail),
                            selected=ids, reason=reason)
    return RedirectResponse(f"/review?{urlencode({'done': meaning, 'n': n})}", status_code=303)


ResultIds = Annotated[list[str] | None, Form(alias="result_id")]
Password = Annotated[str, Form(max_length=200)]


@router.post("/review/sign/review", response_class=HTMLResponse)
def sign_review(request: Request, me: Reviewer, factory: FactoryDep, result_id: ResultIds = None,
                password: Password = "") -> Response:
    """审核签名: the reviewer's e-signature (meaning 'review') on the checked results."""
    return _signed(request, me, factory, "review", result_id, password, lambda s, ids: signoff.review_results(
        s, ids, username=me.username, password=password), audit_reason="review signature (web UI)")


@router.post("/review/sign/approve", response_class=HTMLResponse)
def sign_approve(request: Request, me: Approver, factory: FactoryDep, result_id: ResultIds = None,
                 password: Password = "") -> Response:
    """批准签发: the approver's e-signature (meaning 'approval') certifies the checked results."""
    lab_code = get_settings().lab_code
    return _signed(request, me, factory, "approval", result_id, password, lambda s, ids: signoff.approve_results(
        s, ids, username=me.username, password=password, lab_code=lab_code),
        audit_reason="approval signature (web UI)")


def _reject(request: Request, me: Principal, factory: sessionmaker[Session], raw_ids: list[str] | None,
            password: str, reason: str, retest: str) -> Response:
    reason = reason.strip()
    return _signed(request, me, factory, "rejection", raw_ids, password, lambda s, ids: signoff.reject_results(
        s, ids, username=me.username, password=password, reason=reason, retest=bool(retest)),
        audit_reason=reason or "rejection (web UI)", reason=reason)


Reason = Annotated[str, Form(max_length=2000)]
Retest = Annotated[str, Form(max_length=10)]


@router.post("/review/reject/review", response_class=HTMLResponse)
def reject_as_reviewer(request: Request, me: Reviewer, factory: FactoryDep, result_id: ResultIds = None,
                       password: Password = "", reason: Reason = "", retest: Retest = "") -> Response:
    """退回复检 by a reviewer (signed with meaning 'rejection')."""
    return _reject(request, me, factory, result_id, password, reason, retest)


@router.post("/review/reject/approve", response_class=HTMLResponse)
def reject_as_approver(request: Request, me: Approver, factory: FactoryDep, result_id: ResultIds = None,
                       password: Password = "", reason: Reason = "", retest: Retest = "") -> Response:
    """退回复检 by an approver (signed with meaning 'rejection')."""
    return _reject(request, me, factory, result_id, password, reason, retest)


# ------------------------------------------------------------------------------------------ batches


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, me: ResultsPage, factory: FactoryDep, offset: Offset = 0) -> HTMLResponse:
    def go(s: Session) -> dict[str, Any]:
        q = (select(Batch, Method.code, Instrument.code).join(Method, Method.id == Batch.method_id)
             .outerjoin(Instrument, Instrument.id == Batch.instrument_id))
        total, exact = queries.count_capped(s, select(Batch.id))
        rows = s.execute(q.order_by(Batch.id.desc()).limit(PAGE_SIZE).offset(offset)).all()
        sizes = dict(s.execute(select(Analysis.batch_id, func.count()).where(
            Analysis.batch_id.in_([b.id for b, _m, _i in rows])).group_by(Analysis.batch_id)).all())
        return {"total": total, "exact": exact, "items": [
            {"code": b.code, "method": m, "instrument": i, "status": b.status, "qc_summary": b.qc_summary,
             "created_at": b.created_at, "analyses": sizes.get(b.id, 0)} for b, m, i in rows]}
    data = read_service(factory, go)
    return render(request, me, "ui_batches.html", "/batches", batches=data["items"],
                  pager=_pager("/batches", {}, offset, PAGE_SIZE, data["total"], data["exact"]))


def batch_view(s: Session, code: str) -> dict[str, Any] | None:
    b = s.execute(select(Batch).where(Batch.code == code)).scalar_one_or_none()
    if b is None:
        return None
    method = s.get(Method, b.method_id)
    curves = s.execute(select(CalibrationCurve).where(CalibrationCurve.batch_id == b.id)
                       .order_by(CalibrationCurve.id)).scalars()
    qcs = s.execute(select(QcSample).where(QcSample.batch_id == b.id).order_by(QcSample.id)).scalars()
    analyses = s.execute(select(Analysis).where(Analysis.batch_id == b.id).order_by(Analysis.id)).scalars()
    return {"code": b.code, "status": b.status, "qc_summary": b.qc_summary, "created_at": b.created_at,
            "method": f"{method.code} {method.standard}" if method else "",
            "curves": [{"id": c.id, "version": c.version, "model": c.model, "weight": c.weight, "r2": c.r2,
                        "passed": c.passed, "lod": c.lod, "loq": c.loq} for c in curves],
            "qc": [{"kind": q.kind, "outcome": q.outcome, "nominal": q.nominal_value,
                    "measured": q.measured_value, "unit": q.unit, "metric": q.metric, "detail": q.detail}
                   for q in qcs],
            "analyses": [{"id": a.id, "sample_code": a.sample.code, "analyte": a.analyte.name_zh, "kind": a.kind,
                          "status": a.status} for a in analyses]}


@router.get("/batches/{code}", response_class=HTMLResponse)
def batch_page(code: str, request: Request, me: ResultsPage, factory: FactoryDep) -> HTMLResponse:
    batch = read_service(factory, lambda s: batch_view(s, code))
    if batch is None:
        return _not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    return render(request, me, "ui_batch.html", "/batches", batch=batch)


# ------------------------------------------------------------------------------------------ reports


def _reports(s: Session, offset: int) -> dict[str, Any]:
    total, exact = queries.count_capped(s, select(Report.id))
    rows = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                     .order_by(Report.id.desc()).limit(PAGE_SIZE).offset(offset)).all()
    ready = s.execute(select(Sample.code, Sample.commodity_id).join(Analysis, Analysis.sample_id == Sample.id)
                      .join(Result, Result.analysis_id == Analysis.id)
                      .where(Result.status == ResultStatus.CERTIFIED).distinct().order_by(Sample.code)
                      .limit(200)).all()
    codes = [c for c, _ in ready]
    reported = set(s.execute(select(Sample.code).join(Report, Report.sample_id == Sample.id)
                             .where(Sample.code.in_(codes), Report.status == "issued")).scalars()) if codes else set()
    return {"total": total, "exact": exact,
            "items": [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "sample_code": code, "issued_at": r.issued_at, "content_hash": r.content_hash,
                       "amendment_reason": r.amendment_reason} for r, code in rows],
            "ready": [{"code": c, "amend": c in reported} for c in codes]}


def _reports_page(request: Request, me: Principal, factory: sessionmaker[Session], *, offset: int = 0,
                  status: int = 200, error: dict[str, Any] | None = None, issued: str = "",
                  form: dict[str, str] | None = None) -> HTMLResponse:
    data = read_service(factory, lambda s: _reports(s, offset) | {"issued": issued and s.execute(
        select(Report.report_no).where(Report.report_no == issued)).scalars().first()})
    return render(request, me, "ui_reports.html", "/reports", status=status, error=error, issued=data["issued"],
                  reports=data["items"], ready=data["ready"], form=form or {},
                  can_issue=me.can(P.REPORTS_ISSUE),
                  pager=_pager("/reports", {}, offset, PAGE_SIZE, data["total"], data["exact"]))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, me: ReportsPage, factory: FactoryDep, offset: Offset = 0,
                 issued: Annotated[str, Query(max_length=80)] = "") -> HTMLResponse:
    return _reports_page(request, me, factory, offset=offset, issued=issued)


@router.post("/reports/issue", response_class=HTMLResponse)
def issue_report(request: Request, me: ReportIssuer, factory: FactoryDep,
                 sample_code: Annotated[str, Form(max_length=60)] = "",
                 language: Annotated[str, Form(max_length=10)] = "zh-CN",
                 amendment_reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """签发报告: issue (or, with a reason, amend) the report of a sample whose results are certified."""
    form = {"sample_code": sample_code, "language": language, "amendment_reason": amendment_reason}
    if language not in ("zh-CN", "en"):
        error = ui_error(422, {"message": "language must be zh-CN or en", "field": "language",
                               "code": "report.language_invalid"})
        return _reports_page(request, me, factory, status=422, error=error, form=form)
    if not sample_code:
        error = ui_error(422, {"message": "choose a sample", "field": "sample_code",
                               "code": "report.no_sample_chosen"})
        return _reports_page(request, me, factory, status=422, error=error, form=form)
    out_dir = get_settings().report_dir
    reason = amendment_reason.strip() or None
    try:
        no = run_service(factory, me.username, reason or "report issue (web UI)", lambda s: reporting.issue_report(
            s, sample_code, out_dir=out_dir, language=language, amendment_reason=reason).report_no)  # type: ignore[arg-type]
    except HTTPException as e:
        return _reports_page(request, me, factory, status=e.status_code, error=ui_error(e.status_code, e.detail),
                             form=form)
    return RedirectResponse(f"/reports?{urlencode({'issued': no})}", status_code=303)


# ------------------------------------------------------------------------------------------ PT


@router.get("/pt", response_class=HTMLResponse)
def pt_page(request: Request, me: PtPage, factory: FactoryDep) -> HTMLResponse:
    def go(s: Session) -> list[dict[str, Any]]:
        rounds = s.execute(select(PtRound).order_by(PtRound.id.desc()).limit(200)).scalars().all()
        return [{"code": r.code, "title": r.title, "matrix": r.matrix, "status": r.status,
                 "provider": r.scheme.provider_name, "deadline": r.deadline} for r in rounds]
    return render(request, me, "ui_pt.html", "/pt", rounds=read_service(factory, go),
                  can_submit=me.can(P.PT_SUBMIT))


# ------------------------------------------------------------------------------------------ instruments


def instruments_view(s: Session) -> dict[str, Any]:
    """Instrument status as GET /api/v1/instruments gives it, capture counts per status, recent parse errors."""
    insts = s.execute(select(Instrument).order_by(Instrument.code)).scalars().all()
    counts: dict[int, dict[str, int]] = {}
    for inst_id, st, n in s.execute(select(RawCapture.instrument_id, RawCapture.parse_status, func.count())
                                    .group_by(RawCapture.instrument_id, RawCapture.parse_status)).all():
        counts.setdefault(inst_id, {})[st] = n
    code_of = {i.id: i.code for i in insts}
    errors = s.execute(select(RawCapture).where(RawCapture.parse_status == "error")
                       .order_by(RawCapture.id.desc()).limit(50)).scalars().all()
    return {"instruments": [{"code": i.code, "name": i.name, "profile": i.profile,
                             "transport_url": i.transport_url, "connected": i.connected,
                             "last_message_at": i.last_message_at, "message_count": i.message_count,
                             "error_count": i.error_count, "captures": counts.get(i.id, {})} for i in insts],
            "errors": [{"id": c.id, "instrument": code_of.get(c.instrument_id, "?"), "received_at": c.received_at,
                        "source": c.source, "length": len(c.data), "error": c.error,
                        "preview": c.data[:160].decode("latin-1").encode("unicode_escape").decode("ascii")}
                       for c in errors]}


@router.get("/instruments", response_class=HTMLResponse)
def instruments_page(request: Request, me: InstrumentsPage, factory: FactoryDep,
                     reparsed: Annotated[str, Query(max_length=60)] = "",
                     readings: Annotated[int, Query(ge=0)] = 0,
                     errors: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    done = {"code": reparsed, "readings": readings, "errors": errors} if reparsed else None
    return render(request, me, "ui_instruments.html", "/instruments", data=read_service(factory, instruments_view),
                  statuses=list(CAPTURE_STATUS_ZH), can_reparse=me.can(P.INSTRUMENTS_WRITE), reparsed=done)


@router.post("/instruments/{code}/reparse", response_class=HTMLResponse)
def instrument_reparse(code: str, request: Request, me: InstrumentsWriter, factory: FactoryDep) -> Response:
    """重新解析: parse the instrument's captures in error again (after a profile fix)."""
    try:
        stats = reparse_instrument(factory, code, actor=me.username)
    except LookupError:
        return _not_found(request, me, "/instruments", f"仪器 {code} / instrument {code}")
    except DriverError as e:
        return render(request, me, "ui_instruments.html", "/instruments", status=422,
                      data=read_service(factory, instruments_view), statuses=list(CAPTURE_STATUS_ZH),
                      can_reparse=True, reparsed=None,
                      error={"zh": "仪器配置无法加载，未重新解析", "en": str(e), "field": "profile",
                             "field_zh": FIELD_ZH["profile"], "status": 422})
    query = urlencode({"reparsed": code, "readings": stats.readings, "errors": stats.errors})
    return RedirectResponse(f"/instruments?{query}", status_code=303)


# ------------------------------------------------------------------------------------------ audit


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def audit_changes(old: str, new: str) -> list[dict[str, str]]:
    """Field-level old → new of one audit event (canonical JSON documents; unchanged fields left out)."""
    def load(text: str) -> dict[str, Any]:
        try:
            doc = json.loads(text) if text else {}
        except ValueError:
            return {"": text}
        return doc if isinstance(doc, dict) else {"": doc}
    before, after = load(old), load(new)
    out = []
    for key in sorted(before.keys() | after.keys()):
        if key in before and key in after and before[key] == after[key]:
            continue
        out.append({"field": key, "old": _short(before[key]) if key in before else "",
                    "new": _short(after[key]) if key in after else ""})
    return out


def _audit(s: Session, table: str, offset: int, verify: bool) -> dict[str, Any]:
    q = select(AuditEvent)
    if table:
        q = q.where(AuditEvent.table_name == table)
    total, exact = queries.count_capped(s, q)
    events = s.execute(q.order_by(AuditEvent.seq.desc()).limit(AUDIT_PAGE_SIZE).offset(offset)).scalars().all()
    tables = sorted(s.execute(select(AuditEvent.table_name).distinct()).scalars())
    outcome = verify_database(s) if verify else None
    return {"total": total, "exact": exact, "tables": tables, "verification": outcome,
            "events": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "table": e.table_name,
                        "record_id": e.record_id, "changes": audit_changes(e.old, e.new), "reason": e.reason,
                        "hash": e.hash} for e in events]}


def _audit_page(request: Request, me: Principal, factory: sessionmaker[Session], table: str, offset: int,
                verify: bool) -> HTMLResponse:
    data = read_service(factory, lambda s: _audit(s, table, offset, verify))
    return render(request, me, "ui_audit.html", "/audit", events=data["events"], tables=data["tables"],
                  table=table, verification=data["verification"],
                  pager=_pager("/audit", {"table": table}, offset, AUDIT_PAGE_SIZE, data["total"], data["exact"]))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, me: AuditPage, factory: FactoryDep,
               table: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    return _audit_page(request, me, factory, table, offset, verify=False)


@router.get("/audit/verify", response_class=HTMLResponse)
def audit_verify_page(request: Request, me: AuditPage, factory: FactoryDep,
                      table: Annotated[str, Query(max_length=60)] = "", offset: Offset = 0) -> HTMLResponse:
    """校验审计链: the outcome of ``lims audit verify`` (hash chain and certified records) on this page."""
    return _audit_page(request, me, factory, table, offset, verify=True)
