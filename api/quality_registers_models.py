"""Request and response models of /api/v1/quality registers (instruments, materials, staff, environment,
statistics): :mod:`api.quality_registers`."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class RegisterIn(BaseModel):
    asset_no: str = ""
    manufacturer: str = ""
    model: str = ""
    serial_no: str = ""
    location: str = ""
    calibration_interval_days: int = Field(365, gt=0, le=3650)
    check_interval_days: int | None = Field(None, gt=0, le=3650)
    in_service: bool = True


class RegisterOut(RegisterIn):
    instrument: str


class CheckIn(BaseModel):
    kind: str = Field(description="calibration | verification | intermediate_check | maintenance | repair")
    performed_on: dt.date
    outcome: str = Field(description="pass | fail | n/a")
    due_on: dt.date | None = None
    provider: str = ""
    certificate_no: str = ""
    acceptance: str = ""


class CheckOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    performed_on: dt.date
    due_on: dt.date | None
    outcome: str
    provider: str
    certificate_no: str
    certificate_sha256: str
    certificate_name: str
    acceptance: str
    recorded_by: str


class CheckList(BaseModel):
    items: list[CheckOut]


class ExceptionIn(BaseModel):
    justification: str
    valid_until: dt.datetime
    valid_from: dt.datetime | None = None


class ExceptionOut(BaseModel):
    id: int
    instrument: str
    justification: str
    granted_by: str
    valid_from: dt.datetime
    valid_until: dt.datetime


class FitnessOut(BaseModel):
    instrument: str
    fitness: str
    fitness_label: str
    may_feed: bool
    calibration_due: dt.date | None
    reason: str
    exception_until: dt.datetime | None


class FitnessList(BaseModel):
    items: list[FitnessOut]


class NcIds(BaseModel):
    nonconformity_ids: list[int]


class ReleasedOut(BaseModel):
    released: int


class LotIn(BaseModel):
    code: str
    kind: str = Field(description="reagent | standard | reference_material")
    name: str
    expires_on: dt.date
    analyte_code: str = ""
    supplier: str = ""
    lot_no: str = ""
    certificate_no: str = ""
    concentration: float | None = None
    concentration_unit: str = ""
    uncertainty: float | None = None
    manufactured_on: dt.date | None = None
    opened_on: dt.date | None = None
    in_use_days: int | None = None
    storage: str = ""


class SolutionIn(BaseModel):
    code: str
    dilution_factor: float
    prepared_on: dt.date
    expires_on: dt.date
    name: str = ""
    storage: str = ""


class LotOut(BaseModel):
    code: str
    kind: str
    kind_label: str
    name: str
    analyte_code: str
    supplier: str
    lot_no: str
    certificate_no: str
    concentration: float | None
    concentration_unit: str
    uncertainty: float | None
    manufactured_on: dt.date | None
    expires_on: dt.date
    opened_on: dt.date | None
    in_use_days: int | None
    usable_until: dt.date
    storage: str
    parent: str | None
    dilution_factor: float | None
    prepared_by: str


class LotUse(BaseModel):
    batch: str
    curve_id: int | None
    used_on: dt.date


class LotDetail(BaseModel):
    lot: LotOut
    derivation: list[str]
    uses: list[LotUse]


class LotList(BaseModel):
    items: list[LotOut]


class GrantIn(BaseModel):
    username: str
    method_code: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    instrument_code: str | None = None
    may_test: bool = False
    may_review: bool = False
    may_sign: bool = False


class MatrixRow(BaseModel):
    id: int
    username: str
    method: str
    instrument: str | None
    may_test: bool
    may_review: bool
    may_sign: bool
    valid_from: dt.date
    valid_until: dt.date | None
    valid_today: bool


class MatrixOut(BaseModel):
    items: list[MatrixRow]


class TrainingIn(BaseModel):
    username: str
    kind: str = Field(description="training | competence")
    title: str
    completed_on: dt.date
    outcome: str = Field(description="pass | fail | n/a")
    assessor: str = ""
    method_code: str | None = None
    note: str = ""


class TrainingOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    title: str
    completed_on: dt.date
    outcome: str
    assessor: str
    note: str


class TrainingList(BaseModel):
    items: list[TrainingOut]


class LocationIn(BaseModel):
    code: str
    name: str
    kind: str = Field(description="room | refrigerator | sample_storage")
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    rh_min_pct: float | None = None
    rh_max_pct: float | None = None
    sensor_url: str = ""
    device_id: int = Field(1, ge=0, le=247)


class LocationOut(LocationIn):
    kind_label: str


class LocationList(BaseModel):
    items: list[LocationOut]


class EnvRecordIn(BaseModel):
    temperature_c: float | None = None
    humidity_pct: float | None = None
    at: dt.datetime | None = None


class EnvRecordOut(BaseModel):
    id: int
    at: dt.datetime
    temperature_c: float | None
    humidity_pct: float | None
    source: str
    alarm: str
    nonconformity_id: int | None


class EnvRecordList(BaseModel):
    items: list[EnvRecordOut]


class StatRow(BaseModel):
    section: str
    item: str
    value: float | int | str | None


class SurveyOut(BaseModel):
    year: int
    rows: list[StatRow]


class ReviewRow(BaseModel):
    clause: str
    item: str
    value: float | int | str | None


class ReviewOut(BaseModel):
    year: int
    rows: list[ReviewRow]
