"""REST for a method's quantitation data under /api/v1/methods: calibration strategy, batch-QC limits,
identification rule and validation studies (lims.services.method_data; read model lims.services.views.methods).
Changing them needs ``methods:manage`` (the quality manager); every change is audited like any row."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import FactoryDep, read_service, run_service
from api.security import Principal, require
from lims.services import method_data
from lims.services.views import methods as method_views
from lims.services.views.methods import MethodQuantitation
from lims.vocabulary import Permission

router = APIRouter(prefix="/api/v1")


def _as(*permissions: Permission) -> Any:
    return Annotated[Principal, require(*permissions)]


ResultsRead, MethodsManage = _as(Permission.RESULTS_READ), _as(Permission.METHODS_MANAGE)
Percent = Annotated[float, Field(ge=0, le=1000)]


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
