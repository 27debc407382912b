"""Request bodies of the lab's REST API (``/api/v1``), in the FastAPI template's families: ``XCreate`` for
what a client sends to make a record, ``XRequest`` for an action on one. The answers are the read
model's typed records (:mod:`lims.services.views`), declared as each route's response model."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from lims.services.batches import QuantifyAnalysis
from lims.services.sampling import RegisterSample


class TaskCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    programme_type: str = Field(description="routine | special | supervisory | risk")
    issuing_authority: str = Field(min_length=1, max_length=200)
    required_analytes: list[str] = Field(default_factory=list)
    sampling_plan: str = ""


class PlanDraw(BaseModel):
    producers: int = Field(ge=1, le=10000)
    inspectors_per_visit: int = Field(default=2, ge=2, le=10)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    region_prefix: str = Field(default="", max_length=6)
    kinds: list[str] = Field(default_factory=list)
    sampling_link: str = "before_harvest"


class ProducerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(default="", max_length=18)
    kind: str
    region_code: str
    address: str = ""


class SampleCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
    commodity_code: str
    task_code: str = ""
    producer_id: int | None = None
    assignment_id: int | None = None
    sampled_at: dt.datetime
    sampling_place: str = Field(min_length=1, max_length=300)
    region_code: str
    sampling_link: str
    samplers: list[str]
    certificate_no: str = ""
    trace_code: str = ""
    description: str = ""
    quantity: str = ""
    requested: list[tuple[str, str]] = Field(default_factory=list, description="[(analyte_code, method_code)]")


class SampleReceive(BaseModel):
    condition: str = Field(min_length=1, max_length=200)
    storage: str = Field(default="", max_length=200)


class CustodyCreate(BaseModel):
    kind: str
    location: str = ""
    note: str = ""
    sub_sample_code: str = ""


class BatchCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    method_code: str
    instrument_code: str | None = None
    analysis_ids: list[int] = Field(min_length=1)


class CurveCreate(BaseModel):
    analyte_code: str
    concentrations: list[float] = Field(min_length=2)
    responses: list[float] = Field(min_length=2)
    model: str = "linear"
    weight: str = "none"


class QcCreate(BaseModel):
    kind: str
    analyte_code: str | None = None
    nominal_value: float | None = None
    measured_value: float | None = None
    second_value: float | None = None
    reporting_limit: float | None = None


class QuantifyRequest(BaseModel):
    curve_id: int
    response: float
    sample_mass_g: float = Field(gt=0)
    extract_volume_ml: float = Field(gt=0)
    dilution_factor: float = Field(default=1.0, gt=0)
    recovery_percent: float | None = Field(default=None, gt=0)


class ManualResultCreate(BaseModel):
    value_text: str = Field(min_length=1, max_length=60)
    value: float | None = Field(default=None, ge=0)
    unit: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=5, max_length=2000)


class SignRequest(BaseModel):
    result_ids: list[int] = Field(min_length=1, max_length=5000)
    password: str = Field(min_length=1, description="re-entered password: the e-signature (21 CFR 11.200)")


class RejectRequest(SignRequest):
    reason: str = Field(min_length=5, max_length=2000)
    retest: bool = True


class AmendRequest(BaseModel):
    value: float | None = Field(default=None, ge=0)
    value_text: str = Field(min_length=1, max_length=60)
    reason: str = Field(min_length=5, max_length=2000)


class ReportCreate(BaseModel):
    sample_code: str
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    amendment_reason: str | None = Field(default=None, min_length=5, max_length=2000)


class LimitsCsvUpload(BaseModel):
    csv_text: str = Field(min_length=1, description="UTF-8 CSV in the starter table's columns")
    source: str = Field(default="upload.csv", max_length=200)


def register_command(body: SampleCreate) -> RegisterSample:
    """The service command of a sample registration request."""
    return RegisterSample(**{**body.model_dump(), "requested": tuple(body.requested)})


def quantify_command(body: QuantifyRequest, *, analysis_id: int, analyst_id: int | None) -> QuantifyAnalysis:
    """The service command of a quantitation request on ``analysis_id`` by ``analyst_id``."""
    return QuantifyAnalysis(analysis_id=analysis_id, analyst_id=analyst_id, **body.model_dump())
