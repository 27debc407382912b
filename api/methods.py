"""REST for methods under /api/v1/methods: the methods themselves with their scope and signatories
(lims.services.methods_admin: a fresh install has none), the analytes a scope names under /api/v1/analytes
(lims.services.analytes_admin: a fresh install has only the limits table's), and a method's quantitation data: calibration strategy,
batch-QC limits, identification rule and validation studies (lims.services.method_data; read model
lims.services.views.methods). Changing them needs ``methods:manage`` (the quality manager); every change is
audited like any row, a signatory granted or revoked with the reason given."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import FactoryDep, read_service, run_service
from api.schemas import CODE_PATTERN, PrintedText
from api.security import Principal, require
from lims.services import analytes_admin, method_data, methods_admin
from lims.services.analytes_admin import AnalyteRow
from lims.services.methods_admin import MethodRow
from lims.services.views import methods as method_views
from lims.services.views.methods import MethodQuantitation
from lims.vocabulary import Permission

router = APIRouter(prefix="/api/v1")


def _as(*permissions: Permission) -> Any:
    return Annotated[Principal, require(*permissions)]


ResultsRead, MethodsManage = _as(Permission.RESULTS_READ), _as(Permission.METHODS_MANAGE)
Percent = Annotated[float, Field(ge=0, le=1000)]
Reason = Annotated[str, Field(min_length=5, max_length=500)]


class MethodIn(BaseModel):
    """A method as the lab states it (checked by lims.services.methods_admin.validate, field named)."""

    name: str = Field(min_length=1, max_length=200)
    standard: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(screening|confirmatory)$")
    unit: str = Field(default="mg/kg", max_length=20)
    lod_mg_kg: float | None = Field(default=None, gt=0)
    loq_mg_kg: float | None = Field(default=None, gt=0)
    decision_rule: str = Field(default="simple_acceptance", max_length=30)
    report_figures: int | None = Field(default=None, ge=1, le=6)
    report_decimals: int | None = Field(default=None, ge=0, le=6)
    analytes: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(
        default=None, max_length=500, description="the scope: analyte codes (omitted on PUT: scope unchanged)")


class NewMethodIn(MethodIn):
    code: str = Field(min_length=1, max_length=60)


class SignatoryIn(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    reason: Reason


def _saved(code: str, body: MethodIn, *, create: bool) -> Any:
    def save(s: Any) -> MethodRow:
        fields = body.model_dump(exclude={"code", "analytes"})
        analytes = tuple(body.analytes) if body.analytes is not None else None
        methods_admin.save_method(s, methods_admin.MethodSpec(code=code, analytes=analytes, **fields), create=create)
        return methods_admin.method_row(s, code)
    return save


@router.get("/methods", tags=["methods"], summary="检测方法列表 / methods with their scope and signatories")
def list_methods(me: ResultsRead, factory: FactoryDep) -> list[MethodRow]:
    return read_service(factory, lambda s: methods_admin.list_methods(s))


@router.post("/methods", tags=["methods"], status_code=201, summary="新建检测方法 / create a method")
def post_method(body: NewMethodIn, me: MethodsManage, factory: FactoryDep) -> MethodRow:
    return run_service(factory, me.username, "create method", _saved(body.code.strip(), body, create=True))


@router.put("/methods/{code}", tags=["methods"], summary="修改检测方法 / change a method (and its scope)")
def put_method(code: str, body: MethodIn, me: MethodsManage, factory: FactoryDep) -> MethodRow:
    return run_service(factory, me.username, "change method", _saved(code, body, create=False))


@router.post("/methods/{code}/signatories", tags=["methods"], status_code=201,
             summary="授予授权签字人资格 / let an approver approve this method's results")
def post_signatory(code: str, body: SignatoryIn, me: MethodsManage, factory: FactoryDep) -> MethodRow:
    def grant(s: Any) -> MethodRow:
        methods_admin.grant_signatory(s, body.username, code, reason=body.reason)
        return methods_admin.method_row(s, code)
    return run_service(factory, me.username, body.reason, grant)


@router.delete("/methods/{code}/signatories/{username}", tags=["methods"],
               summary="撤销授权签字人资格 / withdraw a signatory's authority")
def delete_signatory(code: str, username: str, me: MethodsManage, factory: FactoryDep,
                     reason: Annotated[str, Query(min_length=5, max_length=500)]) -> MethodRow:
    def revoke(s: Any) -> MethodRow:
        methods_admin.revoke_signatory(s, username, code, reason=reason)
        return methods_admin.method_row(s, code)
    return run_service(factory, me.username, reason, revoke)


class AnalyteIn(BaseModel):
    """An analyte as the lab states it (checked by lims.services.analytes_admin.validate, field named)."""

    name_zh: PrintedText = Field(min_length=1, max_length=120)
    name_en: PrintedText = Field(default="", max_length=120, description="empty: the Chinese name")
    cas: str = Field(default="", max_length=30, description="CAS Registry Number (check digit checked); "
                                                             "empty for a group")
    kind: str = Field(default="pesticide", pattern="^(pesticide|vet_drug|banned|group)$")
    reason: Reason


class NewAnalyteIn(AnalyteIn):
    code: str = Field(pattern=CODE_PATTERN, max_length=60)


def _analyte_saved(code: str, body: AnalyteIn, *, create: bool) -> Any:
    def save(s: Any) -> AnalyteRow:
        spec = analytes_admin.AnalyteSpec(code=code, **body.model_dump(exclude={"code", "reason"}))
        analytes_admin.save_analyte(s, spec, reason=body.reason, create=create)
        return analytes_admin.analyte_row(s, code)
    return save


@router.get("/analytes", tags=["methods"], summary="检测项目列表 / analytes")
def list_analytes(me: ResultsRead, factory: FactoryDep) -> list[AnalyteRow]:
    return read_service(factory, lambda s: analytes_admin.list_analytes(s))


@router.post("/analytes", tags=["methods"], status_code=201, summary="新增检测项目 / add an analyte")
def post_analyte(body: NewAnalyteIn, me: MethodsManage, factory: FactoryDep) -> AnalyteRow:
    return run_service(factory, me.username, body.reason, _analyte_saved(body.code, body, create=True))


@router.put("/analytes/{code}", tags=["methods"], summary="修改检测项目 / change an analyte")
def put_analyte(code: str, body: AnalyteIn, me: MethodsManage, factory: FactoryDep) -> AnalyteRow:
    return run_service(factory, me.username, body.reason, _analyte_saved(code, body, create=False))


class MethodQcRequest(BaseModel):
    """Settings to change (omitted: unchanged, or the SANTE/11312/2021 routine default for a new method)."""

    calibration_strategy: str | None = Field(default=None, max_length=30)
    recovery_min_percent: Percent | None = None
    recovery_max_percent: Percent | None = None
    duplicate_max_rpd_percent: Percent | None = None
    ccv_max_drift_percent: Percent | None = None
    blank_max_fraction_of_rl: float | None = Field(default=None, ge=0, le=10)
    reference_max_bias_percent: Percent | None = None
    identification: str | None = Field(default=None, pattern="^(none|sante|gb23200)$")
    rt_tolerance_min: float | None = Field(default=None, gt=0, le=10)
    rt_tolerance_percent: float | None = Field(default=None, gt=0, le=100)
    ion_ratio_tolerance_percent: float | None = Field(default=None, gt=0, le=100)
    spike_u_cref_percent: Percent | None = None
    source: str | None = Field(default=None, max_length=300)


class ValidationRequest(BaseModel):
    """One validation study (Nordtest TR 537 inputs) of the method for an analyte in a commodity (or all)."""

    analyte_code: str = Field(min_length=1, max_length=60)
    commodity_code: str | None = Field(default=None, max_length=60)
    recovery_mean_percent: float = Field(gt=0, le=1000)
    recovery_sd_percent: Percent
    recovery_n: int = Field(ge=2, le=10000)
    rsd_rw_percent: Percent
    u_cref_percent: Percent = 0.0
    level_mg_kg: float | None = Field(default=None, gt=0)
    validated_on: dt.date | None = None
    reference: str = Field(min_length=1, max_length=2000)


@router.get("/methods/{code}/quantitation", tags=["methods"],
            summary="方法定量与质控参数 / a method's strategy, QC limits and validation data")
def get_method_quantitation(code: str, me: ResultsRead, factory: FactoryDep) -> MethodQuantitation:
    return read_service(factory, lambda s: method_views.method_quantitation(s, code))


@router.put("/methods/{code}/qc", tags=["methods"], summary="设置方法质控限值 / set a method's QC limits")
def put_method_qc(code: str, body: MethodQcRequest, me: MethodsManage, factory: FactoryDep) -> MethodQuantitation:
    def change(s: Any) -> MethodQuantitation:
        method_data.set_method_qc(s, code, method_data.MethodQcSettings(**body.model_dump()))
        return method_views.method_quantitation(s, code)
    return run_service(factory, me.username, "set method QC limits", change)


@router.post("/methods/{code}/validation", tags=["methods"], status_code=201,
             summary="登记方法确认数据 / record a validation study")
def post_validation(code: str, body: ValidationRequest, me: MethodsManage, factory: FactoryDep) -> MethodQuantitation:
    def record(s: Any) -> MethodQuantitation:
        method_data.record_validation(s, method_data.ValidationData(method_code=code, **body.model_dump()))
        return method_views.method_quantitation(s, code)
    return run_service(factory, me.username, "record method validation data", record)
