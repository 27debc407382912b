"""Request bodies of the lab's REST API (``/api/v1``), in the FastAPI template's families: ``XCreate`` for
what a client sends to make a record, ``XRequest`` for an action on one. The answers are the read
model's typed records (:mod:`lims.services.views`), declared as each route's response model."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import annotated_types
from pydantic import AfterValidator, BaseModel, Field

from lims.services.batches import QuantifyAnalysis
from lims.services.sampling import RegisterSample
from lims.text import printable_problem, text_problem

# ---------------------------------------------------------------------------------------------- edge types
# Every text, code and id a client sends is checked here, so a refusal is a 422 naming the field
# (never a 500 from the database, never a report that cannot print): lims/text.py says what is refused.

#: Largest id or offset accepted: PostgreSQL ``integer`` (ids are 32-bit there; SQLite overflows at 2^63).
MAX_DB_INT = 2**31 - 1
#: Compute inputs, bounded (one unbounded request once wrote 601,229 audit events; a 300k-point 4PL took 28 s).
MAX_CURVE_POINTS = 200
MAX_HOMOGENEITY_ITEMS = 100  # ISO 13528:2022 B.2: g >= 10 items, usually 10-20
MAX_REPLICATES = 10  # B.2: duplicates; a few more allowed
MAX_STABILITY_VALUES = 200
MAX_PT_ROWS = 5000
MAX_ANALYTES = 500
MAX_LIST_ITEMS = 500
#: Codes a route can reach: a letter or digit, then letters, digits, ".", "_", "-" (no "/", no spaces).
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _note(value: str) -> str:
    problem = text_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


def _printed(value: str) -> str:
    problem = printable_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _printed_note(value: str) -> str:
    problem = printable_problem(value, multiline=True)
    if problem:
        raise ValueError(problem)
    return value


#: One line of text: no control, bidi or invisible characters.
Text = Annotated[str, AfterValidator(_text)]
#: Several lines (tab, LF, CR allowed): a note, a reason.
Note = Annotated[str, AfterValidator(_note)]
#: One line printed on reports: also only characters the report font can print.
PrintedText = Annotated[str, AfterValidator(_printed)]
#: Several lines printed on reports.
PrintedNote = Annotated[str, AfterValidator(_printed_note)]
#: A record code (batch, task, scheme, round…): reachable by every route (:data:`CODE_PATTERN`).
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
#: A database id (path, query or body).
DbId = Annotated[int, annotated_types.Interval(ge=1, le=MAX_DB_INT)]
#: An offset into a list.
Offset = Annotated[int, annotated_types.Interval(ge=0, le=MAX_DB_INT)]


class TaskCreate(BaseModel):
    code: Code = Field(min_length=1, max_length=60)
    name: PrintedText = Field(min_length=1, max_length=200)
    programme_type: Text = Field(description="routine | special | supervisory | risk", max_length=40)
    issuing_authority: PrintedText = Field(min_length=1, max_length=200)
    required_analytes: list[Text] = Field(default_factory=list, max_length=MAX_ANALYTES)
    sampling_plan: PrintedNote = Field(default="", max_length=4000)


class PlanDraw(BaseModel):
    producers: int = Field(ge=1, le=10000)
    inspectors_per_visit: int = Field(default=2, ge=2, le=10)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    region_prefix: Text = Field(default="", max_length=6)
    kinds: list[Text] = Field(default_factory=list, max_length=50)
    sampling_link: Text = Field(default="before_harvest", max_length=40)


class ProducerCreate(BaseModel):
    name: PrintedText = Field(min_length=1, max_length=200)
    credit_code: Text = Field(default="", max_length=18)
    kind: Text = Field(max_length=40)
    region_code: Text = Field(max_length=12)
    address: PrintedText = Field(default="", max_length=300)


class SampleCreate(BaseModel):
    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
    commodity_code: Text = Field(max_length=60)
    task_code: Text = Field(default="", max_length=60)
    producer_id: DbId | None = None
    assignment_id: DbId | None = None
    sampled_at: dt.datetime
    sampling_place: PrintedText = Field(min_length=1, max_length=300)
    region_code: Text = Field(max_length=12)
    sampling_link: Text = Field(max_length=40)
    samplers: list[PrintedText] = Field(max_length=20)
    certificate_no: PrintedText = Field(default="", max_length=80)
    trace_code: PrintedText = Field(default="", max_length=80)
    description: PrintedNote = Field(default="", max_length=300)
    quantity: PrintedText = Field(default="", max_length=60)
    requested: list[tuple[Text, Text]] = Field(default_factory=list, max_length=MAX_LIST_ITEMS,
                                               description="[(analyte_code, method_code)]")


class SampleCorrection(BaseModel):
    """A correction of a registered sample's printed fields (only the fields given change), with the reason
    recorded in the audit trail. Once the sample has a report, a correction is a report amendment:
    ``amend_report`` (needs ``reports:issue``) corrects the sample and issues the amended report, naming the
    reason, in one unit of work; without it the correction is refused (409 ``sample.reported``)."""

    reason: PrintedNote = Field(min_length=5, max_length=2000)
    amend_report: bool = False
    sampling_place: PrintedText | None = Field(default=None, min_length=1, max_length=300)
    description: PrintedNote | None = Field(default=None, max_length=300)
    quantity: PrintedText | None = Field(default=None, max_length=60)
    certificate_no: PrintedText | None = Field(default=None, max_length=80)
    trace_code: PrintedText | None = Field(default=None, max_length=80)
    condition: PrintedText | None = Field(default=None, min_length=1, max_length=200)

    def changes(self) -> dict[str, str]:
        """The fields given (a field left out is not changed)."""
        return {k: v for k, v in self.model_dump(exclude={"reason", "amend_report"}, exclude_unset=True).items()
                if v is not None}


class SampleReceive(BaseModel):
    condition: PrintedText = Field(min_length=1, max_length=200)
    storage: PrintedText = Field(default="", max_length=200)
    temperature_c: float | None = Field(default=None, allow_inf_nan=False, description="temperature on receipt, °C")


class CustodyCreate(BaseModel):
    kind: Text = Field(max_length=40)
    location: PrintedText = Field(default="", max_length=200)
    note: PrintedNote = Field(default="", max_length=2000)
    sub_sample_code: Text = Field(default="", max_length=60)
    keep_until: dt.date | None = Field(default=None, description="留样: the retained sample is kept until this date")


class BatchCreate(BaseModel):
    code: Code = Field(min_length=1, max_length=60)
    method_code: Text = Field(max_length=60)
    instrument_code: Text | None = Field(default=None, max_length=60)
    analysis_ids: list[DbId] = Field(min_length=1, max_length=MAX_LIST_ITEMS)


class CurveCreate(BaseModel):
    analyte_code: Text = Field(max_length=60)
    concentrations: list[float] = Field(min_length=2, max_length=MAX_CURVE_POINTS)
    responses: list[float] = Field(min_length=2, max_length=MAX_CURVE_POINTS)
    model: Text = Field(default="linear", max_length=20)
    weight: Text = Field(default="none", max_length=10)
    # what the method's calibration strategy needs besides the standards (lims.services.quantitation)
    is_responses: list[float] | None = Field(default=None, max_length=MAX_CURVE_POINTS)
    solvent_concentrations: list[float] | None = Field(default=None, max_length=MAX_CURVE_POINTS)
    solvent_responses: list[float] | None = Field(default=None, max_length=MAX_CURVE_POINTS)
    analysis_id: DbId | None = None
    reference_retention_time_min: float | None = Field(default=None, gt=0)
    reference_ion_ratio: float | None = Field(default=None, gt=0)
    closing_concentrations: list[float] | None = Field(default=None, max_length=MAX_CURVE_POINTS)
    closing_responses: list[float] | None = Field(default=None, max_length=MAX_CURVE_POINTS)


class QcCreate(BaseModel):
    kind: Text = Field(max_length=40)
    analyte_code: Text | None = Field(default=None, max_length=60)
    nominal_value: float | None = None
    measured_value: float | None = None
    second_value: float | None = None
    reporting_limit: float | None = None


class QuantifyRequest(BaseModel):
    curve_id: DbId
    response: float
    sample_mass_g: float = Field(gt=0)
    extract_volume_ml: float = Field(gt=0)
    dilution_factor: float = Field(default=1.0, gt=0)
    recovery_percent: float | None = Field(default=None, gt=0)
    is_response: float | None = Field(default=None, gt=0)
    bracketing_ccv_ids: tuple[DbId, DbId] | None = None
    retention_time_min: float | None = Field(default=None, gt=0)
    ion_ratio: float | None = Field(default=None, ge=0)


class ManualResultCreate(BaseModel):
    value_text: PrintedText = Field(min_length=1, max_length=60)
    value: float | None = Field(default=None, ge=0)
    unit: PrintedText = Field(min_length=1, max_length=20)
    reason: Note = Field(min_length=5, max_length=2000)


class SignRequest(BaseModel):
    result_ids: list[DbId] = Field(min_length=1, max_length=5000)
    password: str = Field(min_length=1, max_length=1024,
                          description="re-entered password: the e-signature (21 CFR 11.200)")


class RejectRequest(SignRequest):
    reason: Note = Field(min_length=5, max_length=2000)
    retest: bool = True


class AmendRequest(BaseModel):
    value: float | None = Field(default=None, ge=0)
    value_text: PrintedText = Field(min_length=1, max_length=60)
    reason: PrintedNote = Field(min_length=5, max_length=2000)


class LimitJudgementRequest(BaseModel):
    """The approver's explicit judgement of a result without an applicable limit (无限量标准), signed with the
    re-entered password: ``no_limit_applies`` (reason), ``named_standard`` (standard, clause, value_mg_kg) or
    ``value_with_source`` (value_mg_kg, source)."""

    kind: str = Field(pattern="^(no_limit_applies|named_standard|value_with_source)$")
    reason: PrintedNote = Field(default="", max_length=2000)
    standard: PrintedText = Field(default="", max_length=100)
    clause: PrintedText = Field(default="", max_length=200)
    value_mg_kg: float | None = Field(default=None, gt=0)
    source: PrintedNote = Field(default="", max_length=500)
    password: str = Field(min_length=1, max_length=1024,
                          description="re-entered password: the approver's e-signature (21 CFR 11.200)")


class ReportCreate(BaseModel):
    sample_code: Text = Field(max_length=60)
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    amendment_reason: PrintedNote | None = Field(default=None, min_length=5, max_length=2000)


class LimitsCsvUpload(BaseModel):
    csv_text: Note = Field(min_length=1, description="UTF-8 CSV in the starter table's columns")
    source: Text = Field(default="upload.csv", max_length=200)


def register_command(body: SampleCreate) -> RegisterSample:
    """The service command of a sample registration request."""
    return RegisterSample(**{**body.model_dump(), "requested": tuple(body.requested)})


def quantify_command(body: QuantifyRequest, *, analysis_id: int, analyst_id: int | None) -> QuantifyAnalysis:
    """The service command of a quantitation request on ``analysis_id`` by ``analyst_id``."""
    return QuantifyAnalysis(analysis_id=analysis_id, analyst_id=analyst_id, **body.model_dump())
