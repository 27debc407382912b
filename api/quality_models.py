"""Request and response models of /api/v1/quality (api.quality)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

Text = Field(min_length=1, max_length=4000)


class NcIn(BaseModel):
    description: str = Text
    risk: str = "medium"
    owner: str = ""
    due_date: dt.date | None = None
    links: list[tuple[str, str]] = Field(default_factory=list, description="(kind, record code) pairs")


class ContainmentIn(BaseModel):
    containment: str = Field(description="stop_work | withhold | recall | note")
    kind: str
    ref: str = Field(min_length=1, max_length=200)
    note: str = Text


class NoteIn(BaseModel):
    note: str = ""


class RootCauseIn(BaseModel):
    root_cause: str = Text


class ActionIn(BaseModel):
    description: str = Text
    owner: str = Field(min_length=1, max_length=120)
    due_date: dt.date


class VerificationIn(BaseModel):
    verification: str = Text
    effective: bool = True


class NcLinkOut(BaseModel):
    kind: str
    ref: str
    containment: str
    containment_label: str
    note: str
    lifted_at: str | None


class ActionOut(BaseModel):
    id: int
    description: str
    owner: str
    due_date: str | None
    done_at: str | None
    done_note: str


class NcSummary(BaseModel):
    id: int
    source: str
    source_label: str
    source_ref: str
    risk: str
    risk_label: str
    status: str
    status_label: str
    description: str
    owner: str
    raised_by: str
    due_date: str | None
    opened_at: str | None
    closed_at: str | None


class NcDetail(NcSummary):
    containment: str
    root_cause: str
    action: str
    verification: str
    links: list[NcLinkOut]
    actions: list[ActionOut]


class NcList(BaseModel):
    items: list[NcSummary]


class OverdueOut(BaseModel):
    nonconformity_id: int
    action_id: int | None
    what: str
    owner: str
    due_date: dt.date
    days_overdue: int


class OverdueList(BaseModel):
    items: list[OverdueOut]


class ClauseOut(BaseModel):
    clause_id: str
    standard: str
    number: str
    title_zh: str
    title_en: str


class ClauseList(BaseModel):
    items: list[ClauseOut]


class ProgrammeIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    audits: int = Field(default=4, ge=1, le=12)
    title: str = ""


class AuditIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    kind: str = Field(description="internal | external | flight | supervisory")
    title: str = ""
    start_date: dt.date
    end_date: dt.date
    clauses: list[str]
    lead_auditor: str = ""
    programme_year: int | None = None


class FindingIn(BaseModel):
    clause_id: str
    grade: str = Field(description="major | minor | observation")
    description: str = Text
    owner: str = ""


class FindingOut(BaseModel):
    id: int
    clause: str
    grade: str
    grade_label: str
    description: str
    nonconformity_id: int | None


class AuditOut(BaseModel):
    code: str
    kind: str
    kind_label: str
    title: str
    start_date: str | None
    end_date: str | None
    clauses: list[str]
    lead_auditor: str
    status: str
    status_label: str
    findings: list[FindingOut] = Field(default_factory=list)


class Coverage(BaseModel):
    covered: list[str]
    missing: list[str]


class ProgrammeOut(BaseModel):
    year: int
    title: str | None
    audits: list[AuditOut]
    coverage: Coverage


class ChecklistItem(BaseModel):
    clause_id: str
    standard: str
    number: str
    title_zh: str
    title_en: str
    question: str


class Checklist(BaseModel):
    audit: str
    items: list[ChecklistItem]


class EvidenceOut(BaseModel):
    id: int
    filename: str
    sha256: str
    size_bytes: int


class ComplaintIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    complainant: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    description: str = Text
    received_on: dt.date | None = None


class InvestigateIn(BaseModel):
    open_nc: bool = False
    risk: str = "medium"
    owner: str = ""


class ResolutionIn(BaseModel):
    resolution: str = Text


class ComplaintOut(BaseModel):
    code: str
    received_on: str | None
    complainant: str
    subject: str
    description: str
    status: str
    status_label: str
    resolution: str
    nonconformity_id: int | None


class ComplaintList(BaseModel):
    items: list[ComplaintOut]


class DocumentIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    title: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="sop | form | manual | procedure")
    review_interval_months: int = 12


class VersionIn(BaseModel):
    version: str = Field(min_length=1, max_length=20)


class DistributeIn(BaseModel):
    holders: list[str]


class VersionOut(BaseModel):
    version: str
    status: str
    approved_by: str
    approved_at: dt.datetime | None
    next_review_on: dt.date | None
    distribution: list[str]
    withdrawn_at: dt.datetime | None


class DocumentOut(BaseModel):
    code: str
    title: str
    kind: str
    review_interval_months: int
    versions: list[VersionOut]


class TargetIn(BaseModel):
    material: str = Field(min_length=1, max_length=120)
    analyte: str = Field(min_length=1, max_length=120)
    instrument: str = ""
    level: str = Field(min_length=1, max_length=40)
    mean: float | None = Field(default=None, description="omit mean and sd: computed from ≥ 20 runs of the lab's data")
    sd: float | None = None


class TargetOut(BaseModel):
    material: str
    analyte: str
    instrument: str
    level: str
    mean: float
    sd: float
    source: str
    n_runs: int


class RulesIn(BaseModel):
    rules: str = Field(min_length=1, max_length=200, description="e.g. 1-3s,2-2s,R-4s,4-1s,10x")


class RulesOut(BaseModel):
    method_code: str
    rules: str


class QcValueIn(BaseModel):
    level: str = Field(min_length=1, max_length=40)
    value: float


class QcRunIn(BaseModel):
    code: str = Field(min_length=1, max_length=60)
    material: str
    analyte: str
    instrument: str = ""
    method: str = ""
    batch_code: str | None = None
    values: list[QcValueIn]


class QcRunOut(BaseModel):
    code: str
    accepted: bool
    warnings: list[str]
    rejections: list[str]
    rules: str
    nonconformity_id: int | None
    batch_held: bool


class ChartPointOut(BaseModel):
    run: str
    run_at: dt.datetime
    level: str
    value: float
    mean: float
    sd: float
    z: float
    accepted: bool
    rejections: list[str]


class ChartOut(BaseModel):
    material: str
    analyte: str
    instrument: str
    points: list[ChartPointOut]
