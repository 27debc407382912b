"""The quality registers under /api/v1/quality: instruments (register, calibration/verification, checks,
maintenance, exceptions, fitness), reagent and reference-material lots, the staff authorisation matrix and
training, environment monitoring, the annual statistical survey and the management review pack.

Thin routes over lims.quality.instruments / materials / staff / environment / statistics (one unit of work
per request). Reading needs ``registers:read``; recording ``registers:write``; an instrument's
time-limited exception ``registers:exception`` and changing the authorisation matrix ``quality:manage`` —
both the QA manager's. Models: :mod:`api.quality_registers_models`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import quality_registers_models as m
from api.deps import FactoryDep, read_service, run_service
from api.schemas import DbId
from api.security import Permission, Principal, require
from lims.db.models import Instrument, Lab
from lims.db.models_registers import InstrumentCheck, InstrumentRegister, MaterialLot
from lims.quality import documents, staff, statistics
from lims.quality import environment as env
from lims.quality import instruments as ins
from lims.quality import materials as mat
from lims.quality.common import MAX_FILE_BYTES
from lims.quality.registers_vocab import (
    EnvLocationKind,
    Fitness,
    InstrumentCheckKind,
    MaterialKind,
    TrainingKind,
)
from lims.services.lookup import get_by_code

router = APIRouter(tags=["quality registers"])
T = TypeVar("T")
Reader = Annotated[Principal, require(Permission.REGISTERS_READ)]
Writer = Annotated[Principal, require(Permission.REGISTERS_WRITE)]
Excepter = Annotated[Principal, require(Permission.REGISTERS_EXCEPT)]
Manager = Annotated[Principal, require(Permission.QUALITY_MANAGE)]
P = "/api/v1/quality"
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV (UTF-8 with BOM)"}}
PDF = {200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}, "description": "PDF"}}


def _w(factory: Any, me: Principal, reason: str, fn: Callable[[Session], T]) -> T:
    return run_service(factory, me.username, reason, fn)


def _check(c: InstrumentCheck) -> m.CheckOut:
    return m.CheckOut(id=c.id, kind=c.kind, kind_label=InstrumentCheckKind(c.kind).label("zh-CN"),
                      performed_on=c.performed_on, due_on=c.due_on, outcome=c.outcome, provider=c.provider,
                      certificate_no=c.certificate_no, certificate_sha256=c.certificate_sha256,
                      certificate_name=c.certificate_name, acceptance=c.acceptance, recorded_by=c.recorded_by)


def _fitness(f: ins.FitnessState) -> m.FitnessOut:
    return m.FitnessOut(instrument=f.instrument, fitness=f.fitness, fitness_label=Fitness(f.fitness).label("zh-CN"),
                        may_feed=f.may_feed, calibration_due=f.calibration_due, reason=f.reason,
                        exception_until=f.exception_until)


# ------------------------------------------------------------------------------------------------ instruments

@router.get(f"{P}/instruments", summary="仪器检定/校准计划与状态 / instrument schedule and fitness")
def schedule(me: Reader, factory: FactoryDep, within_days: Annotated[int, Query(ge=0, le=3650)] = 30) -> m.FitnessList:
    return read_service(factory, lambda s: m.FitnessList(items=[_fitness(f) for f in ins.schedule(s, within_days=within_days)]))


@router.put(f"{P}/instruments/{{code}}/register", summary="仪器登记 / register an instrument")
def put_register(code: str, body: m.RegisterIn, me: Writer, factory: FactoryDep) -> m.RegisterOut:
    def go(s: Session) -> m.RegisterOut:
        r: InstrumentRegister = ins.register(s, code, **body.model_dump())
        return m.RegisterOut(instrument=code, asset_no=r.asset_no, manufacturer=r.manufacturer, model=r.model,
                             serial_no=r.serial_no, location=r.location, calibration_interval_days=r.calibration_interval_days,
                             check_interval_days=r.check_interval_days, in_service=r.in_service)
    return _w(factory, me, f"register instrument {code}", go)


@router.get(f"{P}/instruments/{{code}}/fitness", summary="仪器是否可用 / may the instrument feed results")
def get_fitness(code: str, me: Reader, factory: FactoryDep) -> m.FitnessOut:
    return read_service(factory, lambda s: _fitness(ins.fitness(s, get_by_code(s, Instrument, code, field="code").id)))


@router.get(f"{P}/instruments/{{code}}/checks", summary="检定/校准、期间核查、维护记录 / checks")
def list_checks(code: str, me: Reader, factory: FactoryDep) -> m.CheckList:
    return read_service(factory, lambda s: m.CheckList(items=[_check(c) for c in ins.checks_of(s, code)]))


@router.post(f"{P}/instruments/{{code}}/checks", status_code=201, summary="记录检定/校准、核查、维护或维修 / record a check")
def add_check(code: str, body: m.CheckIn, me: Writer, factory: FactoryDep) -> m.CheckOut:
    return _w(factory, me, f"{code}: {body.kind}", lambda s: _check(ins.record_check(
        s, code, recorded_by=me.username, **body.model_dump())))


@router.post(f"{P}/instruments/{{code}}/checks/{{check_id}}/certificate", summary="上传证书 / attach the certificate")
async def attach_certificate(code: str, check_id: DbId, me: Writer, factory: FactoryDep,
                             file: Annotated[UploadFile, File(description="certificate (size-limited)")]) -> m.CheckOut:
    data = await file.read(MAX_FILE_BYTES + 1)  # one byte more than allowed: refused, never truncated
    return _w(factory, me, f"{code}: certificate", lambda s: _check(
        ins.attach_certificate(s, check_id, data, file.filename or "certificate")))


CERTIFICATE_FILE: dict[int | str, dict[str, Any]] = {200: {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "the certificate's file, checked against its SHA-256 (also in X-Content-SHA256)"}}


@router.get(f"{P}/instruments/{{code}}/checks/{{check_id}}/certificate", summary="下载证书 / download the certificate",
            response_class=Response, responses=CERTIFICATE_FILE)
def certificate_file(code: str, check_id: DbId, me: Reader, factory: FactoryDep) -> Response:
    """The certificate as uploaded: its SHA-256 is checked on every read — a changed file is refused (409
    ``certificate.file_altered``), a missing one answers 410 ``certificate.file_missing``."""
    def go(s: Session) -> tuple[str, str, bytes]:
        row, data = ins.certificate_file(s, code, check_id)
        return row.certificate_sha256, row.certificate_name, data
    sha256, uploaded_as, data = read_service(factory, go)
    stem, media = documents.download_name(code, f"certificate-{check_id}", data)
    name = uploaded_as or stem
    return Response(data, media_type=media, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}", "X-Content-SHA256": sha256})


@router.post(f"{P}/instruments/{{code}}/exceptions", status_code=201,
             summary="质量负责人限期特批 / QA manager's time-limited exception")
def grant_exception(code: str, body: m.ExceptionIn, me: Excepter, factory: FactoryDep) -> m.ExceptionOut:
    def go(s: Session) -> m.ExceptionOut:
        e = ins.grant_exception(s, code, justification=body.justification, granted_by=me.username,
                                valid_until=body.valid_until, valid_from=body.valid_from)
        return m.ExceptionOut(id=e.id, instrument=code, justification=e.justification, granted_by=e.granted_by,
                              valid_from=e.valid_from, valid_until=e.valid_until)
    return _w(factory, me, f"{code}: exception", go)


@router.post(f"{P}/instruments/{{code}}/release-excepted", summary="释放特批期内暂停的读数 / release readings the exception covers")
def release_excepted(code: str, me: Excepter, factory: FactoryDep) -> m.ReleasedOut:
    return _w(factory, me, f"{code}: release under exception", lambda s: m.ReleasedOut(
        released=ins.release_excepted(s, code)))


@router.post(f"{P}/instruments/overdue-nonconformities", summary="为检定/校准过期的仪器登记不符合 / raise NCs for overdue calibrations")
def overdue_ncs(me: Writer, factory: FactoryDep) -> m.NcIds:
    return _w(factory, me, "overdue calibrations", lambda s: m.NcIds(nonconformity_ids=ins.raise_overdue(s, raised_by=me.username)))


# ------------------------------------------------------------------------------------------------ materials

def _lot(s: Session, lot: MaterialLot) -> m.LotOut:
    parent = s.get(MaterialLot, lot.parent_lot_id) if lot.parent_lot_id else None
    return m.LotOut(code=lot.code, kind=lot.kind, kind_label=MaterialKind(lot.kind).label("zh-CN"), name=lot.name,
                    analyte_code=lot.analyte_code, supplier=lot.supplier, lot_no=lot.lot_no,
                    certificate_no=lot.certificate_no, concentration=lot.concentration,
                    concentration_unit=lot.concentration_unit, uncertainty=lot.uncertainty,
                    manufactured_on=lot.manufactured_on, expires_on=lot.expires_on, opened_on=lot.opened_on,
                    in_use_days=lot.in_use_days, usable_until=mat.usable_until(lot), storage=lot.storage,
                    parent=parent.code if parent else None, dilution_factor=lot.dilution_factor, prepared_by=lot.prepared_by)


@router.get(f"{P}/materials", summary="试剂与标准物质批次 / material lots")
def list_lots(me: Reader, factory: FactoryDep,
              expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None) -> m.LotList:
    return read_service(factory, lambda s: m.LotList(items=[
        _lot(s, lot) for lot in mat.list_lots(s, expiring_within_days=expiring_within_days)]))


@router.post(f"{P}/materials", status_code=201, summary="登记批次 / receive a lot")
def add_lot(body: m.LotIn, me: Writer, factory: FactoryDep) -> m.LotOut:
    return _w(factory, me, f"lot {body.code}", lambda s: _lot(s, mat.add_lot(s, mat.NewLot(**body.model_dump()))))


@router.get(f"{P}/materials/{{code}}", summary="批次、来源与使用记录 / a lot, its derivation and uses")
def get_lot(code: str, me: Reader, factory: FactoryDep) -> m.LotDetail:
    def go(s: Session) -> m.LotDetail:
        chain = mat.derivation(s, code)
        return m.LotDetail(lot=_lot(s, chain[0]), derivation=[x.code for x in chain], uses=[
            m.LotUse(batch=b, curve_id=c, used_on=d) for b, c, d in mat.uses_of(s, code)])
    return read_service(factory, go)


@router.post(f"{P}/materials/{{code}}/solutions", status_code=201, summary="配制标准溶液 / prepare a solution from a lot")
def prepare(code: str, body: m.SolutionIn, me: Writer, factory: FactoryDep) -> m.LotOut:
    return _w(factory, me, f"solution {body.code} from {code}", lambda s: _lot(s, mat.prepare_solution(
        s, parent_code=code, prepared_by=me.username, **body.model_dump())))


# ------------------------------------------------------------------------------------------------ staff

@router.get(f"{P}/staff/authorisations", summary="人员授权矩阵 / authorisation matrix")
def matrix(me: Reader, factory: FactoryDep) -> m.MatrixOut:
    return read_service(factory, lambda s: m.MatrixOut(items=[m.MatrixRow(**r) for r in staff.matrix(s)]))  # type: ignore[arg-type]


@router.post(f"{P}/staff/authorisations", status_code=201, summary="授权 / grant an authorisation")
def grant(body: m.GrantIn, me: Manager, factory: FactoryDep) -> m.MatrixRow:
    def go(s: Session) -> m.MatrixRow:
        row = staff.grant(s, staff.Grant(granted_by=me.username, **body.model_dump()))
        return m.MatrixRow(**next(r for r in staff.matrix(s) if r["id"] == row.id))  # type: ignore[arg-type]
    return _w(factory, me, f"authorise {body.username} for {body.method_code}", go)


def _training(t: Any) -> m.TrainingOut:
    return m.TrainingOut(id=t.id, kind=t.kind, kind_label=TrainingKind(t.kind).label("zh-CN"), title=t.title,
                         completed_on=t.completed_on, outcome=t.outcome, assessor=t.assessor, note=t.note)


@router.post(f"{P}/staff/training", status_code=201, summary="培训与能力评估记录 / record training or competence")
def add_training(body: m.TrainingIn, me: Writer, factory: FactoryDep) -> m.TrainingOut:
    return _w(factory, me, f"training {body.username}", lambda s: _training(staff.add_training(s, **body.model_dump())))


@router.get(f"{P}/staff/{{username}}/training", summary="某人的培训记录 / a person's training")
def list_training(username: str, me: Reader, factory: FactoryDep) -> m.TrainingList:
    return read_service(factory, lambda s: m.TrainingList(items=[_training(t) for t in staff.training_of(s, username)]))


# ------------------------------------------------------------------------------------------------ environment

def _loc(loc: Any) -> m.LocationOut:
    return m.LocationOut(code=loc.code, name=loc.name, kind=loc.kind, kind_label=EnvLocationKind(loc.kind).label("zh-CN"),
                         temp_min_c=loc.temp_min_c, temp_max_c=loc.temp_max_c, rh_min_pct=loc.rh_min_pct,
                         rh_max_pct=loc.rh_max_pct, sensor_url=loc.sensor_url, device_id=loc.device_id)


def _rec(r: Any) -> m.EnvRecordOut:
    return m.EnvRecordOut(id=r.id, at=r.at, temperature_c=r.temperature_c, humidity_pct=r.humidity_pct, source=r.source,
                          alarm=r.alarm, nonconformity_id=r.nonconformity_id)


@router.get(f"{P}/environment/locations", summary="环境监控点 / monitored locations")
def list_locations(me: Reader, factory: FactoryDep) -> m.LocationList:
    return read_service(factory, lambda s: m.LocationList(items=[_loc(x) for x in env.list_locations(s)]))


@router.post(f"{P}/environment/locations", status_code=201, summary="添加监控点 / add a location")
def add_location(body: m.LocationIn, me: Writer, factory: FactoryDep) -> m.LocationOut:
    b = body
    return _w(factory, me, f"location {b.code}", lambda s: _loc(env.add_location(
        s, code=b.code, name=b.name, kind=b.kind, sensor_url=b.sensor_url, device_id=b.device_id,
        limits=env.Limits(b.temp_min_c, b.temp_max_c, b.rh_min_pct, b.rh_max_pct))))


@router.post(f"{P}/environment/locations/{{code}}/records", status_code=201, summary="手工记录温湿度 / record by hand")
def add_record(code: str, body: m.EnvRecordIn, me: Writer, factory: FactoryDep) -> m.EnvRecordOut:
    return _w(factory, me, f"{code}: record", lambda s: _rec(env.record(
        s, code, temperature_c=body.temperature_c, humidity_pct=body.humidity_pct, at=body.at, raised_by=me.username)))


@router.post(f"{P}/environment/locations/{{code}}/poll", status_code=201, summary="读取传感器 / read the sensor now")
def poll(code: str, me: Writer, factory: FactoryDep) -> m.EnvRecordOut:
    return _w(factory, me, f"{code}: poll", lambda s: _rec(env.poll(s, code, raised_by=me.username)))


@router.get(f"{P}/environment/locations/{{code}}/records", summary="温湿度记录 / records")
def list_records(code: str, me: Reader, factory: FactoryDep, since: dt.datetime | None = None,
                 until: dt.datetime | None = None) -> m.EnvRecordList:
    return read_service(factory, lambda s: m.EnvRecordList(items=[
        _rec(r) for r in env.readings_of(s, code, since=since, until=until)]))


# ------------------------------------------------------------------------------------------------ statistics

Year = Annotated[int, Query(ge=2000, le=2100)]


def _lab_name(s: Session) -> str:
    lab = s.execute(select(Lab).order_by(Lab.id)).scalars().first()
    return lab.name if lab else ""


@router.get(f"{P}/statistics/survey", summary="年度统计调查 / annual statistical survey")
def survey(year: Year, me: Reader, factory: FactoryDep) -> m.SurveyOut:
    return read_service(factory, lambda s: m.SurveyOut(year=year, rows=[
        m.StatRow(**r) for r in statistics.survey_rows(statistics.survey(s, year))]))  # type: ignore[arg-type]


@router.get(f"{P}/statistics/survey.csv", summary="年度统计调查 CSV / survey as CSV", responses=CSV)
def survey_csv(year: Year, me: Reader, factory: FactoryDep) -> Response:
    from lims.quality import survey_report  # reportlab: loaded with the first survey, not with the web app

    text = read_service(factory, lambda s: survey_report.csv_text(
        statistics.survey_rows(statistics.survey(s, year)), ("section", "item", "value")))
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="survey-{year}.csv"'})


@router.get(f"{P}/statistics/survey.pdf", summary="年度统计调查 PDF / survey as PDF", responses=PDF)
def survey_pdf(year: Year, me: Reader, factory: FactoryDep) -> Response:
    from lims.quality import survey_report

    pdf = read_service(factory, lambda s: survey_report.survey_pdf(
        statistics.survey_rows(statistics.survey(s, year)), year=year, lab_name=_lab_name(s)))
    return Response(pdf, media_type="application/pdf")


@router.get(f"{P}/statistics/management-review", summary="管理评审输入 / management review inputs")
def review(year: Year, me: Reader, factory: FactoryDep) -> m.ReviewOut:
    return read_service(factory, lambda s: m.ReviewOut(year=year, rows=[
        m.ReviewRow(**r) for r in statistics.review_pack(s, year)]))  # type: ignore[arg-type]


@router.get(f"{P}/statistics/management-review.pdf", summary="管理评审输入 PDF / as PDF", responses=PDF)
def review_pdf(year: Year, me: Reader, factory: FactoryDep) -> Response:
    from lims.quality import survey_report

    pdf = read_service(factory, lambda s: survey_report.review_pdf(statistics.review_pack(s, year), year=year,
                                                                   lab_name=_lab_name(s)))
    return Response(pdf, media_type="application/pdf")


@router.get(f"{P}/statistics/management-review.csv", summary="管理评审输入 CSV / as CSV", responses=CSV)
def review_csv(year: Year, me: Reader, factory: FactoryDep) -> Response:
    from lims.quality import survey_report

    text = read_service(factory, lambda s: survey_report.csv_text(statistics.review_pack(s, year),
                                                                  ("clause", "item", "value")))
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="management-review-{year}.csv"'})
