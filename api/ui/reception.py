"""Sample reception (样品接收) for the technician at the reception desk, on a PC or a phone: register a sample
from its sampling record (抽样单), prefilled from a scanned 合格证 or 追溯码 QR; receive it; sub-samples,
the retained sample (留样) and disposal (处置) on its chain of custody.

Every write goes through :mod:`lims.services.sampling` in one unit of work, as ``POST /api/v1/samples``,
``/receive`` and ``/custody`` do. A form with problems comes back with what was typed, each problem
beside its field (outlined, ``aria-invalid``) and listed on top, in the user's language; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require_ui
from api.ui.base import area_router, not_found, render, ui_error
from api.ui.labels import P
from lims.clock import utcnow
from lims.scan import parse_scan
from lims.services import sampling
from lims.services.sampling import LAB_TZ, RegisterSample
from lims.services.views import samples as sample_views
from lims.vocabulary import ProducerKind, SamplingLink

router = area_router()
SamplesWriter = Annotated[Principal, require_ui(P.SAMPLES_WRITE)]
SamplesReader = Annotated[Principal, require_ui(P.SAMPLES_READ, P.RESULTS_READ)]
CODE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
#: Retained samples are kept this long by default (the form's suggestion; the lab's procedure decides).
KEEP_DAYS = 90
#: Form fields → (Chinese, English) for the list of problems on top of a form.
FIELDS = {
    "code": ("样品编号", "sample code"), "task_code": ("监测任务", "monitoring task"),
    "commodity_code": ("样品名称", "commodity"), "producer_id": ("受检单位", "producer"),
    "assignment_id": ("双随机抽样计划", "sampling plan line"),
    "producer_name": ("新受检单位名称", "new producer's name"), "producer_kind": ("主体类型", "kind"),
    "producer_credit_code": ("统一社会信用代码", "unified social credit code"),
    "producer_region_code": ("受检单位区划代码", "producer's region code"),
    "certificate_no": ("合格证编号", "certificate no."), "trace_code": ("追溯码", "traceability code"),
    "region_code": ("区划代码", "region code"), "sampling_place": ("抽样地点", "sampling place"),
    "sampling_link": ("抽样环节", "sampling link"), "sampled_at": ("抽样时间", "sampled at"),
    "samplers": ("抽样人员", "samplers"), "quantity": ("抽样数量", "quantity"),
    "description": ("样品描述", "description"), "requested": ("检测项目", "analyses"),
    "condition": ("接收时状态", "condition on receipt"), "temperature_c": ("接收温度", "temperature"),
    "storage": ("存放位置", "storage"), "sub_sample_code": ("分样编号", "sub-sample code"),
    "location": ("地点 / 位置", "place"), "keep_until": ("留样期限", "keep until"), "note": ("备注 / 原因", "note"),
    "kind": ("流转环节", "custody event"),
}
#: What a scanned text was read as (:func:`lims.scan.parse_scan`): (Chinese, English).
SCAN_WORDS = {"certificate_no": ("合格证编号", "certificate no."), "trace_code": ("追溯码", "traceability code"),
              "commodity": ("产品名称", "product"), "producer": ("生产者", "producer"),
              "credit_code": ("统一社会信用代码", "credit code"), "quantity": ("数量", "quantity"),
              "origin": ("产地", "origin"), "region_code": ("区划代码", "region code"),
              "issued_on": ("开具日期", "issued on")}
#: Notices after a write (``?done=``): (Chinese, English).
DONE = {"registered": ("样品已登记。下一步：打印标签、接收样品。", "Sample registered. Next: print the label, receive it."),
        "received": ("样品已接收。", "Sample received."), "subsampled": ("已登记分样。", "Sub-sample recorded."),
        "retained": ("已登记留样。", "Retained sample recorded."), "disposed": ("已登记处置。", "Disposal recorded."),
        "stored": ("已登记入库。", "Storage recorded."), "moved": ("已登记流转。", "Move recorded.")}
#: Custody events the sample page records (receipt has its own form).
CUSTODY_FORMS = ("subsampled", "retained", "disposed", "stored", "moved")


class RegistrationForm(BaseModel):
    """The registration form as typed (all text; checked by :func:`registration_problems`)."""

    code: str = ""
    task_code: str = ""
    commodity_code: str = ""
    producer_id: str = ""
    assignment_id: str = ""
    producer_name: str = ""
    producer_kind: str = "farmer"
    producer_credit_code: str = ""
    producer_region_code: str = ""
    producer_address: str = ""
    certificate_no: str = ""
    trace_code: str = ""
    region_code: str = ""
    sampling_place: str = ""
    sampling_link: str = ""
    sampled_at: str = ""
    sampler1: str = ""
    sampler2: str = ""
    quantity: str = ""
    description: str = ""
    requested: list[str] = []


def problem(field: str, code: str, message: str) -> dict[str, Any]:
    """One problem of a form as shown (:func:`api.ui.base.ui_error` with the field's words)."""
    shown = ui_error(422, {"message": message, "field": field, "code": code})
    zh, en = FIELDS.get(field, (field, field))
    return shown | {"field_zh": zh, "field_en": en}


def parse_local_datetime(text: str) -> dt.datetime | None:
    """``2026-12-06T10:30`` (an ``<input type=datetime-local>``) as Beijing time, aware; None when unreadable."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=LAB_TZ) if value.tzinfo is None else value


def parse_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


_LIMITS = {"code": 60, "certificate_no": 80, "trace_code": 80, "region_code": 12, "sampling_place": 300,
           "quantity": 60, "description": 300, "sampler1": 60, "sampler2": 60, "producer_name": 200,
           "producer_address": 300, "producer_credit_code": 18, "producer_region_code": 12}
_REQUIRED = ("code", "commodity_code", "region_code", "sampling_place", "sampling_link", "sampled_at")


def registration_problems(form: RegistrationForm, *, now: dt.datetime,
                          may_add_producer: bool) -> dict[str, dict[str, Any]]:
    """The form's own problems by field (required, lengths, formats); the service checks the rest."""
    out: dict[str, dict[str, Any]] = {}
    for name, limit in _LIMITS.items():
        if len(getattr(form, name).strip()) > limit:
            out[name] = problem(name, "ui.too_long", f"at most {limit} characters")
    for name in _REQUIRED:
        if not getattr(form, name).strip():
            out.setdefault(name, problem(name, "ui.field_required", "this field is required"))
    if "code" not in out and not CODE.fullmatch(form.code.strip()):
        out["code"] = problem("code", "ui.sample_code_invalid", "letters, digits, '-' and '_' only")
    if not form.sampler1.strip() or not form.sampler2.strip():
        out["samplers"] = problem("samplers", "sample.samplers_required",
                                  "at least two samplers must sign the sampling record")
    if form.sampled_at.strip() and "sampled_at" not in out:
        at = parse_local_datetime(form.sampled_at)
        if at is None:
            out["sampled_at"] = problem("sampled_at", "ui.datetime_invalid", "not a date and time")
        elif at > now + dt.timedelta(minutes=10):
            out["sampled_at"] = problem("sampled_at", "ui.datetime_future", "the sampling time is in the future")
    for name in ("producer_id", "assignment_id"):
        if getattr(form, name) and not getattr(form, name).isdigit():
            out[name] = problem(name, "ui.number_invalid", "choose from the list")
    if form.producer_name.strip() and not may_add_producer:
        out["producer_name"] = problem("producer_name", "ui.producer_add_forbidden",
                                       "adding a producer to the directory needs tasks:manage")
    return out


def registration_command(form: RegistrationForm) -> RegisterSample:
    """The service command of a checked form (:func:`registration_problems` found nothing)."""
    at = parse_local_datetime(form.sampled_at)
    assert at is not None
    requested = tuple(tuple(v.split("|", 1)) for v in form.requested if "|" in v)
    return RegisterSample(
        code=form.code.strip(), commodity_code=form.commodity_code, sampled_at=at,
        sampling_place=form.sampling_place.strip(), region_code=form.region_code.strip(),
        sampling_link=form.sampling_link, samplers=(form.sampler1.strip(), form.sampler2.strip()),
        task_code=form.task_code, producer_id=int(form.producer_id) if form.producer_id else None,
        assignment_id=int(form.assignment_id) if form.assignment_id else None,
        certificate_no=form.certificate_no.strip(), trace_code=form.trace_code.strip(),
        description=form.description.strip(), quantity=form.quantity.strip(),
        requested=requested)  # type: ignore[arg-type]


def prefill(found: dict[str, str], choices: dict[str, Any]) -> dict[str, str]:
    """Form values from a scanned text (:func:`lims.scan.parse_scan`): the codes as read; the commodity and
    the producer when the directory has them (by name, or by credit code)."""
    values = {k: found[k] for k in ("certificate_no", "trace_code", "quantity") if k in found}
    if "region_code" in found and sampling.region_code_valid(found["region_code"]):
        values["region_code"] = found["region_code"]
    name = found.get("commodity", "")
    commodity = next((c for c in choices["commodities"] if name and name in (c["name_zh"], c["name_en"], c["code"])),
                     None)
    if commodity is not None:
        values["commodity_code"] = commodity["code"]
    credit, producer_name = found.get("credit_code", ""), found.get("producer", "")
    producer = next((p for p in choices["producers"] if (credit and p["credit_code"] == credit)
                     or (producer_name and p["name"] == producer_name)), None)
    if producer is not None:
        values["producer_id"] = str(producer["id"])
        values.setdefault("region_code", producer["region_code"])
    elif producer_name:
        values["producer_name"] = producer_name
        values["producer_credit_code"] = credit
        values["producer_address"] = found.get("origin", "")
    return values


def _defaults(choices: dict[str, Any]) -> dict[str, Any]:
    now = utcnow().astimezone(LAB_TZ)
    task = choices["tasks"][0] if choices["tasks"] else None
    requested = [a["value"] for a in choices["analyses"]
                 if task and a["analyte"] in task["required_analytes"] and a["kind"] == "screening"]
    return {"code": choices["next_code"], "task_code": task["code"] if task else "",
            "region_code": choices["lab_region_code"], "sampling_link": SamplingLink.BEFORE_HARVEST.value,
            "sampled_at": f"{now:%Y-%m-%dT%H:%M}", "producer_kind": ProducerKind.FARMER.value, "requested": requested}


def _new_page(request: Request, me: Principal, factory: sessionmaker[Session], *, values: dict[str, Any],
              errors: dict[str, dict[str, Any]] | None = None, status: int = 200, scan: str = "",
              scanned: dict[str, str] | None = None) -> HTMLResponse:
    choices = read_service(factory, sample_views.registration_choices)
    shown = _defaults(choices) | values
    if scan:
        scanned = parse_scan(scan)
        shown |= prefill(scanned, choices)
    return render(request, me, "ui_sample_new.html", "/samples", status=status, f=shown, errors=errors or {},
                  choices=choices, scan=scan, scanned=scanned, scan_words=SCAN_WORDS, links=list(SamplingLink),
                  kinds=list(ProducerKind), may_add_producer=me.can(P.TASKS_MANAGE))


@router.get("/samples/new", response_class=HTMLResponse)
def new_sample_page(request: Request, me: SamplesWriter, factory: FactoryDep,
                    scan: Annotated[str, Query(max_length=2000)] = "") -> HTMLResponse:
    """样品登记: the sampling record's form; ``?scan=`` (a scanned 合格证 / 追溯码 text) prefills it."""
    return _new_page(request, me, factory, values={}, scan=scan)


def _service_field(detail: Any, adding_producer: bool) -> Any:
    """A refusal of the producer's creation names the form's producer fields (``producer_…``)."""
    if adding_producer and isinstance(detail, dict) and (detail.get("code") or "").startswith("producer."):
        return detail | {"field": f"producer_{detail.get('field')}"}
    return detail


@router.post("/samples/new", response_class=HTMLResponse)
def register_sample(request: Request, me: SamplesWriter, factory: FactoryDep,
                    form: Annotated[RegistrationForm, Form()]) -> Response:
    """Register the sample (and add its producer to the directory when asked and allowed)."""
    values = form.model_dump()
    errors = registration_problems(form, now=utcnow(), may_add_producer=me.can(P.TASKS_MANAGE))
    if errors:
        return _new_page(request, me, factory, values=values, errors=errors, status=422)
    cmd = registration_command(form)
    adding = bool(form.producer_name.strip())

    def go(s: Session) -> str:
        producer_id = cmd.producer_id
        if adding:
            producer_id = sampling.create_producer(
                s, name=form.producer_name.strip(), credit_code=form.producer_credit_code.strip().upper(),
                kind=form.producer_kind, region_code=form.producer_region_code.strip() or cmd.region_code,
                address=form.producer_address.strip()).id
        return sampling.register_sample(s, replace(cmd, producer_id=producer_id)).code
    try:
        code = run_service(factory, me.username, "register sample (web UI)", go)
    except HTTPException as e:
        shown = ui_error(e.status_code, _service_field(e.detail, adding))
        field = shown["field"] or "code"
        zh, en = FIELDS.get(field, (field, field))
        return _new_page(request, me, factory, values=values, status=e.status_code,
                         errors={field: shown | {"field_zh": zh, "field_en": en}})
    return RedirectResponse(f"/samples/{quote(code)}?done=registered", status_code=303)


# ------------------------------------------------------------------------------------ receipt and custody


def sample_page(request: Request, me: Principal, factory: sessionmaker[Session], code: str, *,
                status: int = 200, done: str = "", form: str = "", errors: dict[str, dict[str, Any]] | None = None,
                values: dict[str, str] | None = None) -> HTMLResponse:
    """The sample's page with its action forms; ``form`` names the form a problem belongs to."""
    try:
        sample = read_service(factory, lambda s: sample_views.sample_record(s, code))
    except HTTPException:
        return not_found(request, me, "/samples", f"样品 {code} / sample {code}")
    today = utcnow().astimezone(LAB_TZ).date()
    return render(request, me, "ui_sample.html", "/samples", status=status, sample=sample,
                  done=DONE.get(done), form=form, errors=errors or {}, v=values or {}, fields=FIELDS,
                  can_write=me.can(P.SAMPLES_WRITE), keep_until=(today + dt.timedelta(days=KEEP_DAYS)).isoformat(),
                  today=today.isoformat(), links_en={x.zh: x.en for x in SamplingLink})


def _after(request: Request, me: Principal, factory: sessionmaker[Session], code: str, form: str,
           values: dict[str, str], problems: dict[str, dict[str, Any]], reason: str, write: Any) -> Response:
    """Shared path of the custody forms: the form's problems, else the write in one unit of work."""
    if not problems:
        try:
            run_service(factory, me.username, reason, write)
        except HTTPException as e:
            shown = ui_error(e.status_code, e.detail)
            field = shown["field"] if shown["field"] in values else ""  # "": the form as a whole
            zh, en = FIELDS.get(field, ("", ""))
            problems = {field: shown | {"field_zh": zh, "field_en": en}}
    if problems:
        status = max(p["status"] for p in problems.values())
        return sample_page(request, me, factory, code, status=status, form=form, errors=problems, values=values)
    return RedirectResponse(f"/samples/{quote(code)}?done={form}", status_code=303)


Text200 = Annotated[str, Form(max_length=2000)]


@router.post("/samples/{code}/receive", response_class=HTMLResponse)
def receive(code: str, request: Request, me: SamplesWriter, factory: FactoryDep, condition: Text200 = "",
            temperature_c: Text200 = "", storage: Text200 = "") -> Response:
    """样品接收: condition, temperature (°C, optional) and storage place."""
    values = {"condition": condition, "temperature_c": temperature_c, "storage": storage}
    problems: dict[str, dict[str, Any]] = {}
    if not condition.strip():
        problems["condition"] = problem("condition", "sample.condition_required", "the condition must be recorded")
    elif len(condition.strip()) > 200:
        problems["condition"] = problem("condition", "ui.too_long", "at most 200 characters")
    if len(storage.strip()) > 200:
        problems["storage"] = problem("storage", "ui.too_long", "at most 200 characters")
    temperature = None
    if temperature_c.strip():
        try:
            temperature = float(temperature_c.replace("℃", "").replace("°C", "").strip())
        except ValueError:
            problems["temperature_c"] = problem("temperature_c", "ui.number_invalid", "a temperature in °C")
    return _after(request, me, factory, code, "received", values, problems, "sample receipt (web UI)",
                  lambda s: sampling.receive_sample(s, code, actor=me.username, condition=condition.strip(),
                                                    storage=storage.strip(), temperature_c=temperature))


def custody_problems(kind: str, values: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The custody form's own problems: a kind the page offers, a sub-sample code, a retained sample's place
    and keep-until date, lengths."""
    out: dict[str, dict[str, Any]] = {}
    if kind not in CUSTODY_FORMS:
        out["kind"] = problem("kind", "ui.field_required", "choose a custody event")
    for name, limit in (("location", 200), ("note", 2000), ("sub_sample_code", 60)):
        if len(values[name].strip()) > limit:
            out[name] = problem(name, "ui.too_long", f"at most {limit} characters")
    if kind == "subsampled" and "sub_sample_code" not in out and not CODE.fullmatch(values["sub_sample_code"].strip()):
        out["sub_sample_code"] = problem("sub_sample_code", "ui.sample_code_invalid",
                                         "letters, digits, '-' and '_' only")
    if kind == "retained":
        if not values["location"].strip():
            out["location"] = problem("location", "ui.field_required", "where the retained sample is kept")
        if parse_date(values["keep_until"]) is None:
            code = "ui.datetime_invalid" if values["keep_until"].strip() else "ui.field_required"
            out["keep_until"] = problem("keep_until", code, "the date the retained sample is kept until")
    return out


@router.post("/samples/{code}/custody", response_class=HTMLResponse)
def custody(code: str, request: Request, me: SamplesWriter, factory: FactoryDep, kind: Text200 = "",
            location: Text200 = "", note: Text200 = "", sub_sample_code: Text200 = "",
            keep_until: Text200 = "") -> Response:
    """样品流转: a sub-sample, the retained sample (留样), storage, a move, or the disposal (处置)."""
    values = {"location": location, "note": note, "sub_sample_code": sub_sample_code, "keep_until": keep_until}
    problems = custody_problems(kind, values)
    return _after(request, me, factory, code, kind if kind in CUSTODY_FORMS else "moved", values, problems,
                  f"custody: {kind} (web UI)", lambda s: sampling.custody(
                      s, code, kind=kind, actor=me.username, location=location.strip(), note=note.strip(),
                      sub_sample_code=sub_sample_code.strip() if kind == "subsampled" else "",
                      keep_until=parse_date(keep_until) if kind == "retained" else None))


@router.get("/samples/{code}", response_class=HTMLResponse)
def sample_record_page(code: str, request: Request, me: SamplesReader, factory: FactoryDep,
                       done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    """The sample's record with receipt and custody forms (for ``samples:write``)."""
    return sample_page(request, me, factory, code, done=done)
