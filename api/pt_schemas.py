"""Request bodies of the proficiency-testing routes (``/api/v1/pt``): every text field typed (lims/text.py,
api/schemas.py: control and bidi characters refused, printed fields checked against the report font), every
list and number bounded (ISO 13528 homogeneity sizes, PT rows), codes reachable by every route."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas import (
    MAX_ANALYTES,
    MAX_DB_INT,
    MAX_HOMOGENEITY_ITEMS,
    MAX_LIST_ITEMS,
    MAX_REPLICATES,
    MAX_STABILITY_VALUES,
    Code,
    Note,
    PrintedNote,
    PrintedText,
    Text,
)
from lims.pt.submissions import MAX_ROWS as MAX_PT_ROWS


class SchemeIn(BaseModel):
    code: Code = Field(min_length=1, max_length=60)
    name: PrintedText = Field(min_length=1, max_length=200)
    provider_name: PrintedText = Field(min_length=1, max_length=200)
    description: PrintedNote = Field(default="", max_length=4000)


class AnalyteIn(BaseModel):
    code: Code = Field(min_length=1, max_length=60)
    name_zh: PrintedText = Field(default="", max_length=200)
    unit: Text = Field(default="mg/kg", max_length=20)
    mrrl: float = Field(gt=0)
    present: bool = True
    assigned_method: Literal["consensus", "reference"] = "consensus"
    reference_value: float | None = None
    reference_u: float | None = None
    sigma_method: Literal["ffp", "horwitz", "robust"] = "ffp"
    ffp_rsd: float | None = 0.25


class RoundIn(BaseModel):
    scheme_code: Text = Field(max_length=60)
    code: Code = Field(min_length=1, max_length=60)
    title: PrintedText = Field(min_length=1, max_length=300)
    matrix: PrintedText = Field(default="", max_length=200)
    deadline: dt.datetime
    analytes: list[AnalyteIn] = Field(min_length=1, max_length=MAX_ANALYTES)


class LabIn(BaseModel):
    lab_code: Text = Field(min_length=1, max_length=60)
    lab_name: PrintedText = Field(min_length=1, max_length=200)
    contact: PrintedText = Field(default="", max_length=200)
    accounts: list[Text] = Field(default_factory=list, max_length=20,
                                 description="usernames that submit and read this participant's results")


class EnrolIn(BaseModel):
    labs: list[LabIn] = Field(min_length=1, max_length=MAX_LIST_ITEMS)
    seed: int | None = Field(default=None, ge=0, le=MAX_DB_INT)


class AccountIn(BaseModel):
    username: Text = Field(min_length=1, max_length=60)


Replicates = Annotated[list[float], Field(min_length=1, max_length=MAX_REPLICATES)]


class HomogeneityIn(BaseModel):
    analyte: Text = Field(max_length=60)
    items: list[Replicates] = Field(min_length=2, max_length=MAX_HOMOGENEITY_ITEMS)
    sigma_pt: float | None = Field(default=None, gt=0)


class StabilityIn(BaseModel):
    analyte: Text = Field(max_length=60)
    before: list[float] = Field(min_length=1, max_length=MAX_STABILITY_VALUES)
    after: list[float] = Field(min_length=1, max_length=MAX_STABILITY_VALUES)
    sigma_pt: float | None = Field(default=None, gt=0)


class ResultIn(BaseModel):
    participant_code: Text = Field(min_length=1, max_length=20)
    analyte: Text = Field(min_length=1, max_length=60)
    result: float | None = Field(default=None, ge=0, description="null = not detected")
    unit: Text = Field(min_length=1, max_length=20)
    method: PrintedText = Field(default="", max_length=120)
    loq: float | None = Field(default=None, gt=0)
    expanded_uncertainty: float | None = Field(default=None, ge=0)
    coverage_factor: float | None = Field(default=None, gt=0)
    recovery_percent: float | None = Field(default=None, gt=0)


class ResultsIn(BaseModel):
    results: list[ResultIn] = Field(min_length=1, max_length=MAX_PT_ROWS)


class ParticipationIn(BaseModel):
    provider_name: PrintedText = Field(min_length=1, max_length=200)
    round_code: Text = Field(min_length=1, max_length=60)
    round_date: dt.date
    scheme_name: PrintedText = Field(default="", max_length=200)
    lab_code: Text | None = Field(default=None, max_length=40)
    sample_code: Text | None = Field(default=None, max_length=60)
    participant_code: Text = Field(default="", max_length=60)
    responsible: PrintedText = Field(default="", max_length=120)


class ExternalScoreIn(BaseModel):
    analyte: Text = Field(min_length=1, max_length=60)
    unit: Text = Field(default="mg/kg", max_length=20)
    result: float
    assigned_value: float
    sigma_pt: float = Field(gt=0)
    u_assigned: float | None = Field(default=None, ge=0)
    expanded_uncertainty: float | None = Field(default=None, ge=0)
    coverage_factor: float = Field(default=2.0, gt=0)
    z: float | None = None
    en: float | None = None
    owner: PrintedText | None = Field(default=None, max_length=120)
    due_date: dt.date | None = None


class PtSampleIn(BaseModel):
    """The PT test item registered as a normal sample (fields of ``POST /api/v1/samples``)."""

    code: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_-]+$")
    commodity_code: Text = Field(min_length=1, max_length=60)
    sampled_at: dt.datetime = Field(description="when the provider dispatched the item (with its time zone)")
    region_code: Text = Field(max_length=12)
    sampling_link: Text = Field(max_length=40)
    samplers: list[PrintedText] = Field(max_length=20)
    sampling_place: PrintedText = Field(default="", max_length=300)
    description: PrintedNote = Field(default="", max_length=300)
    quantity: PrintedText = Field(default="", max_length=60)
    requested: list[tuple[Text, Text]] = Field(default_factory=list, max_length=MAX_LIST_ITEMS,
                                               description="[(analyte_code, method_code)]")


class AdvanceIn(BaseModel):
    status: Literal["root_cause", "action", "verified", "closed"]
    note: Note = Field(min_length=1, max_length=4000)
