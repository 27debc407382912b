"""The technician's bench: one batch's QC samples, its worklist, rapid-test and manual result entry, and the
authorship (检验) e-signature.

Every write goes through the service the REST API uses, in one unit of work (:func:`api.deps.run_service`):
QC samples and their judgement (lims.services.batches.add_qc / evaluate_batch_qc, POST /api/v1/batches/{code}/qc,
…/evaluate), manual results (enter_manual_result, POST /api/v1/analyses/{id}/manual-result; its reason is
mandatory), rapid readings typed at the bench (lims.services.bench) and the authorship signature
(lims.services.signoff.author_results, POST /api/v1/results/author). A refused request writes nothing and
shows the form again with the refusal in the user's language and the field outlined.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import area_router, not_found, parse_ids, render, ui_error
from api.ui.labels import P
from lims.acquisition import orders
from lims.db.models import Batch
from lims.services import batches as batch_service
from lims.services import bench as bench_service
from lims.services import signoff
from lims.services.batches import QuantifyAnalysis
from lims.services.lookup import get_by_code
from lims.services.views import batches as batch_views
from lims.services.views import bench as bench_views
from lims.vocabulary import QcKind

router = area_router()
Bench = Annotated[Principal, require_ui(P.RESULTS_ENTER)]
Text60 = Annotated[str, Form(max_length=60)]
Texts = Annotated[list[str] | None, Form()]
Note = Annotated[str, Form(max_length=2000)]
#: What the confirmation after a write says, by ``done``.
DONE = {"created": ("批次已创建，含 {n} 个检测项目", "batch created with {n} analyses"),
        "qc": ("已记录质控样并判定", "QC sample recorded and judged"),
        "evaluated": ("批次质控已判定", "batch QC evaluated"),
        "rapid": ("已录入 {n} 条快检结果", "{n} rapid-test result(s) entered"),
        "manual": ("已手工录入 1 条结果（含理由）", "1 manual result entered (with its reason)"),
        "curve": ("标准曲线已保存（第 {n} 版），验收结论见下表", "calibration curve stored (version {n}); its acceptance below"),
        "quantified": ("已按标准曲线定量 1 条结果", "1 result quantified against its curve"),
        "sent": ("工作表（{n} 个位置）已排队，由采集进程发送至仪器", "worklist ({n} positions) queued; the acquisition "
                 "process sends it to the instrument")}
#: A stored worklist's state (lims.acquisition.orders) in words.
WORKLIST_STATE = {"pending": ("待发送", "waiting to be sent"), "sent": ("已发送", "sent"),
                  "applied": ("已用于运行", "applied to a run"), "failed": ("发送失败", "failed"),
                  "cancelled": ("已取消（被新工作表替代）", "cancelled (superseded)")}
#: Field names of the forms in words (zh, en), for the refusal box; per-row fields end in ``_<analysis id>``.
FIELDS = {"control_a0": ("对照 A₀", "control A0"), "control_a3": ("对照 A₃", "control A3"), "a0": ("A₀", "A0"),
          "a3": ("A₃", "A3"), "t": ("T 线强度", "T intensity"), "c": ("C 线强度", "C intensity"),
          "visual": ("目视判读", "read by eye"), "cutoff": ("T/C 判定值", "T/C cut-off"),
          "analysis_ids": ("检测项目", "analyses"), "analysis_id": ("检测项目", "analysis"), "value": ("数值", "value"),
          "value_text": ("结果", "result text"), "unit": ("单位", "unit"), "reason": ("理由", "reason"),
          "kind": ("质控类型", "QC kind"), "nominal_value": ("标称值 / 加标水平", "nominal value / spike level"),
          "measured_value": ("测得值", "measured value"), "second_value": ("第二个测定值", "second value"),
          "reporting_limit": ("报告限", "reporting limit"), "analyte_code": ("检测项目", "analyte"),
          "password": ("密码", "password"), "result_ids": ("所选结果", "selected results"),
          "concentrations": ("标准浓度", "concentrations"), "responses": ("响应值", "responses"),
          "is_responses": ("内标响应值", "IS responses"), "is_response": ("样品内标响应", "sample IS response"),
          "response": ("样品响应值", "sample response"), "curve_id": ("标准曲线", "curve"),
          "sample_mass_g": ("称样量", "sample mass"), "extract_volume_ml": ("定容体积", "extract volume"),
          "dilution_factor": ("稀释倍数", "dilution factor"),
          "code": ("批次编号", "batch code"), "method_code": ("方法", "method"), "instrument_code": ("仪器", "instrument")}


class Refused(Exception):
    """A form value refused before any service is called (422)."""

    def __init__(self, message: str, field: str, code: str) -> None:
        super().__init__(message)
        self.detail = {"message": message, "field": field, "code": code}


def shown_error(status: int, detail: Any) -> dict[str, Any]:
    """:func:`api.ui.base.ui_error` with the field named in words, a per-row field as "A₃（#12）"."""
    error = ui_error(status, detail)
    field = error.get("field") or ""
    base, _, row = field.rpartition("_") if field.rsplit("_", 1)[-1].isdigit() else (field, "", "")
    words = FIELDS.get(base)
    if words:
        error["field_zh"] = words[0] + (f"（#{row}）" if row else "")
        error["field_en"] = words[1] + (f" (#{row})" if row else "")
    return error


def number(raw: str, field: str, *, required: bool = False) -> float | None:
    """A number typed in a form (full-width digits and a decimal comma accepted); empty → None."""
    text = (raw or "").strip().replace("，", ".").replace(",", ".")
    if not text:
        if required:
            raise Refused(f"{field}: a number is required", field, "bench.bad_number")
        return None
    try:
        value = float(text)
    except ValueError:
        raise Refused(f"{field}: {raw!r} is not a number", field, "bench.bad_number") from None
    if not math.isfinite(value) or value < 0:
        raise Refused(f"{field}: a finite number ≥ 0 is required", field, "bench.bad_number")
    return value


def _entry_data(s: Session, code: str) -> dict[str, Any] | None:
    """What the entry page shows of batch ``code`` (None: no such batch): the batch at the bench, its worklist
    as sent, its QC samples (as GET /api/v1/batches/{code}), the instruments and the worklists sent."""
    batch = bench_views.batch_bench(s, code)
    if batch is None:
        return None
    instruments = bench_views.form_choices(s)["instruments"]
    return {"batch": batch, "worklist": bench_views.worklist_rows(s, batch),
            "qc": batch_views.batch_detail(s, code)["qc"],
            "instruments": [i for i in instruments if orders.download_kind(i["profile"]) is not None],
            "sent": sorted((w for i in instruments for w in orders.list_worklists(s, i["code"]) if w["batch"] == code),
                           key=lambda w: -w["id"])}


def _entry_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *, status: int = 200,
                error: dict[str, Any] | None = None, form: dict[str, Any] | None = None, done: str = "",
                n: int = 0, positives: int = 0) -> HTMLResponse:
    data = read_service(factory, lambda s: _entry_data(s, code))
    if data is None:
        return not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    words = DONE.get(done)
    return render(request, me, "ui_entry.html", "/batches", status=status, error=error, form=form or {},
                  **data, worklist_state=WORKLIST_STATE,
                  qc_kinds=[k.value for k in QcKind], positives=positives,
                  done={"zh": words[0].format(n=n), "en": words[1].format(n=n)} if words else None)


@router.get("/batches/{code}/entry", response_class=HTMLResponse)
def entry_page(code: str, request: Request, me: Bench, factory: FactoryDep,
               done: Annotated[str, Query(max_length=20)] = "", n: Annotated[int, Query(ge=0, le=100_000)] = 0,
               pos: Annotated[int, Query(ge=0, le=100_000)] = 0) -> HTMLResponse:
    """结果录入: the batch's worklist, QC samples, rapid-test and manual entry."""
    return _entry_page(request, me, factory, code, done=done, n=n, positives=pos)


def _written(request: Request, me: Principal, factory: sessionmaker[Session], code: str, form: dict[str, Any],
             reason: str, write: Callable[[Session], Any], done: str,
             counted: Callable[[Any], tuple[int, int]] = lambda _: (1, 0)) -> Response:
    """Shared path of the bench forms: one unit of work, then back to the page with a confirmation, or the
    form again with the refusal (nothing written)."""
    try:
        out = run_service(factory, me.username, reason, write)
    except HTTPException as e:
        return _entry_page(request, me, factory, code, status=e.status_code, error=shown_error(e.status_code, e.detail),
                           form=form)
    n, positives = counted(out)
    return RedirectResponse(f"/batches/{quote(code, safe='')}/entry?{urlencode({'done': done, 'n': n, 'pos': positives})}",
                            status_code=303)


def _refused(request: Request, me: Principal, factory: sessionmaker[Session], code: str, refusal: Refused,
             form: dict[str, Any]) -> HTMLResponse:
    return _entry_page(request, me, factory, code, status=422, error=shown_error(422, refusal.detail), form=form)


@router.post("/batches/{code}/qc", response_class=HTMLResponse)
def add_qc(code: str, request: Request, me: Bench, factory: FactoryDep, kind: Text60 = "", analyte_code: Text60 = "",
           nominal_value: Text60 = "", measured_value: Text60 = "", second_value: Text60 = "",
           reporting_limit: Text60 = "") -> Response:
    """质控样: a blank, spike (its level as the nominal value), duplicate, CCV or reference material, judged at once."""
    form = {"qc_kind": kind, "qc_analyte": analyte_code, "nominal_value": nominal_value,
            "measured_value": measured_value, "second_value": second_value, "reporting_limit": reporting_limit}
    try:
        values = {f: number(form[f], f) for f in ("nominal_value", "measured_value", "second_value", "reporting_limit")}
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    return _written(request, me, factory, code, form, f"QC {kind} (web UI)", lambda s: batch_service.add_qc(
        s, code, kind=kind, analyte_code=analyte_code or None, **values), "qc")


@router.post("/batches/{code}/evaluate", response_class=HTMLResponse)
def evaluate_qc(code: str, request: Request, me: Bench, factory: FactoryDep) -> Response:
    """批次质控判定: a failed QC sample holds every result of the batch."""
    return _written(request, me, factory, code, {}, "batch QC evaluation (web UI)",
                    lambda s: batch_service.evaluate_batch_qc(s, code), "evaluated")


def _rows(ids: list[str] | None, *columns: list[str] | None) -> list[tuple[int, list[str]]]:
    """The rows of a per-analysis table form (the same names repeated, in document order): (analysis id,
    its cells); rows left empty are skipped."""
    out = []
    for i, raw_id in enumerate(ids or []):
        cells = [(col or [])[i] if i < len(col or []) else "" for col in columns]
        if raw_id.isdigit() and any(c.strip() for c in cells):
            out.append((int(raw_id), cells))
    return out


def _rapid_count(out: Any) -> tuple[int, int]:
    return len(out.results), len(out.positives)


@router.post("/batches/{code}/entry/enzyme", response_class=HTMLResponse)
def enter_enzyme(code: str, request: Request, me: Bench, factory: FactoryDep, control_a0: Text60 = "",
                 control_a3: Text60 = "", analysis_id: Texts = None, a0: Texts = None, a3: Texts = None,
                 note: Note = "") -> Response:
    """酶抑制法: the control's and each channel's absorbances → inhibition % and the call (GB/T 5009.199-2003)."""
    rows = _rows(analysis_id, a0, a3)
    form = {"control_a0": control_a0, "control_a3": control_a3, "note": note,
            **{f"a0_{aid}": c[0] for aid, c in rows}, **{f"a3_{aid}": c[1] for aid, c in rows}}
    try:
        c0, c3 = number(control_a0, "control_a0", required=True), number(control_a3, "control_a3", required=True)
        channels = [bench_service.EnzymeChannel(aid, number(c[0], f"a0_{aid}", required=True) or 0.0,
                                                number(c[1], f"a3_{aid}", required=True) or 0.0) for aid, c in rows]
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    assert c0 is not None and c3 is not None
    return _written(request, me, factory, code, form, "enzyme-inhibition readings typed (web UI)",
                    lambda s: bench_service.enter_enzyme_run(s, code, control_a0=c0, control_a3=c3, channels=channels,
                                                             analyst_id=me.user_id, note=note), "rapid", _rapid_count)


@router.post("/batches/{code}/entry/strip", response_class=HTMLResponse)
def enter_strips(code: str, request: Request, me: Bench, factory: FactoryDep, cutoff: Text60 = "",
                 analysis_id: Texts = None, t: Texts = None, c: Texts = None, visual: Texts = None,
                 note: Note = "") -> Response:
    """胶体金: T and C with the kit's cut-off, or the strip read by eye."""
    rows = _rows(analysis_id, t, c, visual)
    form = {"cutoff": cutoff, "note": note, **{f"{k}_{aid}": cells[i] for aid, cells in rows
                                               for i, k in enumerate(("t", "c", "visual"))}}
    try:
        cut = number(cutoff, "cutoff")
        strips = [bench_service.StripReading(aid, number(cells[0], f"t_{aid}"), number(cells[1], f"c_{aid}"),
                                             cells[2].strip()) for aid, cells in rows]
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    return _written(request, me, factory, code, form, "colloidal-gold strips typed (web UI)",
                    lambda s: bench_service.enter_strips(s, code, strips=strips, cutoff_t_over_c=cut,
                                                         analyst_id=me.user_id, note=note), "rapid", _rapid_count)


@router.post("/batches/{code}/entry/manual", response_class=HTMLResponse)
def enter_manual(code: str, request: Request, me: Bench, factory: FactoryDep, analysis_id: Text60 = "",
                 value: Text60 = "", value_text: Text60 = "", unit: Annotated[str, Form(max_length=20)] = "",
                 reason: Note = "") -> Response:
    """手工录入: value, unit and the mandatory reason (lims.services.batches.enter_manual_result)."""
    form = {"manual_analysis": analysis_id, "value": value, "value_text": value_text, "unit": unit,
            "reason": reason}
    try:
        if not analysis_id.isdigit():
            raise Refused("choose the analysis", "analysis_id", "bench.nothing_entered")
        v = number(value, "value")
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    text = value_text.strip() or (f"{v:g}" if v is not None else "")
    return _written(request, me, factory, code, form, f"manual entry: {reason.strip()}"[:2000],
                    lambda s: batch_service.enter_manual_result(s, analysis_id=int(analysis_id), value_text=text,
                                                                value=v, unit=unit.strip(), reason=reason,
                                                                analyst_id=me.user_id), "manual")


def numbers(raw: str, field: str) -> list[float]:
    """A list of numbers typed in one field, separated by commas, semicolons or spaces."""
    parts = [x for x in raw.replace("，", ",").replace("；", ",").replace(";", ",").replace(",", " ").split() if x]
    return [number(x, field, required=True) or 0.0 for x in parts]


@router.post("/batches/{code}/curves", response_class=HTMLResponse)
def store_curve(code: str, request: Request, me: Bench, factory: FactoryDep, analyte_code: Text60 = "",
                concentrations: Note = "", responses: Note = "", is_responses: Note = "") -> Response:
    """标准曲线: the standards' concentrations and responses (and the IS responses for an internal-standard
    method), fitted by the method's calibration strategy and judged (lims.services.batches.store_curve)."""
    form = {"curve_analyte": analyte_code, "concentrations": concentrations, "responses": responses,
            "is_responses": is_responses}
    try:
        xs, ys = numbers(concentrations, "concentrations"), numbers(responses, "responses")
        internal = numbers(is_responses, "is_responses") or None
        if len(xs) < 2 or len(xs) != len(ys) or (internal is not None and len(internal) != len(xs)):
            raise Refused("give as many responses as concentrations (at least 2)", "responses", "bench.curve_points")
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    return _written(request, me, factory, code, form, "store calibration curve (web UI)",
                    lambda s: batch_service.store_curve(s, batch=get_by_code(s, Batch, code), analyte_code=analyte_code,
                                                        concentrations=xs, responses=ys, is_responses=internal),
                    "curve", lambda curve: (curve.version, 0))


@router.post("/batches/{code}/quantify", response_class=HTMLResponse)
def quantify(code: str, request: Request, me: Bench, factory: FactoryDep, analysis_id: Text60 = "",
             curve_id: Text60 = "", response: Text60 = "", is_response: Text60 = "", sample_mass_g: Text60 = "",
             extract_volume_ml: Text60 = "", dilution_factor: Text60 = "1") -> Response:
    """按标准曲线定量: response → extract concentration → mg/kg (lims.services.batches.quantify)."""
    form = {"q_analysis": analysis_id, "q_curve": curve_id, "response": response, "is_response": is_response,
            "sample_mass_g": sample_mass_g, "extract_volume_ml": extract_volume_ml, "dilution_factor": dilution_factor}
    try:
        if not analysis_id.isdigit() or not curve_id.isdigit():
            raise Refused("choose the analysis and its curve", "curve_id" if analysis_id.isdigit() else "analysis_id",
                          "bench.nothing_entered")
        values = {f: number(form[f], f, required=f != "is_response") for f in
                  ("response", "is_response", "sample_mass_g", "extract_volume_ml", "dilution_factor")}
        for f in ("sample_mass_g", "extract_volume_ml", "dilution_factor"):
            if not values[f]:
                raise Refused(f"{f} must be > 0", f, "bench.bad_number")
    except Refused as r:
        return _refused(request, me, factory, code, r, form)
    command = QuantifyAnalysis(analysis_id=int(analysis_id), curve_id=int(curve_id), analyst_id=me.user_id,
                               response=values["response"] or 0.0, is_response=values["is_response"],
                               sample_mass_g=values["sample_mass_g"] or 0.0,
                               extract_volume_ml=values["extract_volume_ml"] or 0.0,
                               dilution_factor=values["dilution_factor"] or 1.0)
    return _written(request, me, factory, code, form, "quantitation (web UI)",
                    lambda s: batch_service.quantify(s, command), "quantified")


@router.get("/batches/{code}/worklist.csv")
def worklist_csv(code: str, request: Request, me: Bench, factory: FactoryDep,
                 run: Annotated[str, Query(max_length=30, pattern=r"^[0-9A-Za-z-]*$")] = "1") -> Response:
    """The worklist as sent (positions of the open analyses) in the file the acquisition reads
    (lims.acquisition.worklist.read_worklist: run_no, channel, sample_code), for a tester whose wire carries no
    sample ID; channel 0 is the control."""
    rows = read_service(factory, lambda s: None if (b := bench_views.batch_bench(s, code)) is None
                        else bench_views.worklist_rows(s, b))
    if rows is None:
        return not_found(request, me, "/batches", f"批次 {code} / batch {code}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_no", "channel", "sample_code"])
    for row in rows:
        if not row["control"]:
            writer.writerow([run or "1", row["position"], row["sample_code"]])
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in code)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="worklist-{safe}.csv"'})


@router.post("/batches/{code}/worklist/send", response_class=HTMLResponse)
def send_worklist(code: str, request: Request, me: Bench, factory: FactoryDep, instrument_code: Text60 = "") -> Response:
    """发送工作表: the batch's open analyses as a worklist stored for the instrument (lims.acquisition.orders),
    which ``lims acquire`` sends as its profile takes it (ASTM orders, Modbus registers, channel map)."""
    return _written(request, me, factory, code, {"send_instrument": instrument_code}, "send worklist (web UI)",
                    lambda s: orders.send_worklist(s, instrument_code, batch_code=code), "sent",
                    lambda stored: (len(stored["entries"]), 0))


def _author_page(request: Request, me: Principal, factory: sessionmaker[Session], batch: str, *, status: int = 200,
                 error: dict[str, Any] | None = None, selected: list[int] | None = None, n: int = 0) -> HTMLResponse:
    data = read_service(factory, lambda s: bench_views.to_author(s, me.user_id, batch_code=batch))
    return render(request, me, "ui_author.html", "/author", status=status, error=error, batch=batch,
                  results=data, selected=set(selected or ()), n=n)


@router.get("/author", response_class=HTMLResponse)
def author_page(request: Request, me: Bench, factory: FactoryDep, batch: Annotated[str, Query(max_length=60)] = "",
                n: Annotated[int, Query(ge=0, le=100_000)] = 0) -> HTMLResponse:
    """检验签名: the results this technician entered that await their authorship signature."""
    return _author_page(request, me, factory, batch, n=n)


@router.post("/author", response_class=HTMLResponse)
def sign_authorship(request: Request, me: Bench, factory: FactoryDep, batch: Text60 = "",
                    result_id: Annotated[list[str] | None, Form()] = None,
                    password: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The technician's e-signature (meaning 检验 / Tested by) on the checked results; then they can be reviewed."""
    ids = parse_ids(result_id)
    problem = None
    if not ids:
        problem = {"message": "select at least one result", "field": "result_ids", "code": "ui.no_result_selected"}
    elif not password:
        problem = {"message": "re-enter your password to sign", "field": "password", "code": "ui.password_required"}
    if problem is not None:
        return _author_page(request, me, factory, batch, status=422, error=shown_error(422, problem), selected=ids)
    assert ids is not None
    try:
        n = run_service(factory, me.username, "authorship signature (web UI)", lambda s: len(signoff.author_results(
            s, ids, username=me.username, password=password)))
    except HTTPException as e:
        return _author_page(request, me, factory, batch, status=e.status_code,
                            error=shown_error(e.status_code, e.detail), selected=ids)
    query = {"n": n} | ({"batch": batch} if batch else {})
    return RedirectResponse(f"/author?{urlencode(query)}", status_code=303)
