"""Answers of the proficiency-testing routes (``/api/v1/pt``), as documented in OpenAPI.

The records come from :mod:`lims.pt.views` and the PT services as plain dicts. These types name the
fields a client may rely on; they are *open* (``extra="allow"``): a field the PT services add later is
passed through unchanged rather than silently dropped, so the answers stay exactly what the services
return.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from proficiency.outcomes import HomogeneityResult, StabilityResult

OPEN = ConfigDict(extra="allow")


@with_config(ConfigDict(extra="ignore"))
class RoundRow(TypedDict):
    """A PT round as listed (closed: the list's columns only)."""

    code: str
    title: str
    status: str
    provider: str
    deadline: str | None


@with_config(OPEN)
class RoundList(TypedDict):
    items: list[RoundRow]


@with_config(OPEN)
class SchemeCreated(TypedDict):
    code: str


@with_config(OPEN)
class RoundAnalyte(TypedDict):
    """An analyte of a round: unit, MRRL, how the assigned value and σ_pt are set, and (once scored)
    assigned value, σ_pt, robust SD and the homogeneity/stability outcomes."""

    code: str
    name_zh: str
    unit: str
    assigned_method: str
    sigma_method: str
    assigned_value: float | None
    sigma_pt: float | None
    statistic: str | None


@with_config(OPEN)
class RoundDetail(TypedDict):
    """A PT round as its provider sees it."""

    code: str
    title: str
    matrix: str
    status: str
    scheme: str
    provider: str
    deadline: str | None
    code_seed: int | None
    analytes: list[RoundAnalyte]
    participants: int


@with_config(OPEN)
class Enrolled(TypedDict):
    """Participants enrolled, with the codes drawn for them, and the seed of the draw."""

    participants: list[dict[str, str]]
    seed: int | None


#: ISO 13528:2022 B.2/B.3 and B.5.1 outcomes: the answer is the study's dataclass, field for field.
HomogeneityOutcome = HomogeneityResult
StabilityOutcome = StabilityResult


@with_config(OPEN)
class ResultsAccepted(TypedDict):
    """Results accepted, and those converted to the analyte's unit (as submitted → recorded)."""

    accepted: int
    converted: list[dict[str, Any]]


@with_config(OPEN)
class AccountBound(TypedDict):
    """An account bound to a participant of a round: it may submit and read that participant's results."""

    id: int
    round_code: str
    participant_code: str
    username: str


@with_config(OPEN)
class SubmissionList(TypedDict):
    """Submitted results the caller may see (its own participants' before publication; all for pt:manage)."""

    items: list[dict[str, Any]]


@with_config(OPEN)
class RoundTransitioned(TypedDict):
    """The round's status after open/close/score/publish (scoring adds its counts)."""

    code: str
    status: str


@with_config(OPEN)
class ScoresView(TypedDict):
    """A round's scores: analytes, participants (by code) and one row per submitted result."""

    round: str
    status: str
    analytes: list[RoundAnalyte]
    participants: list[dict[str, Any]]
    scores: list[dict[str, Any]]


@with_config(OPEN)
class Created(TypedDict):
    id: int


@with_config(OPEN)
class ParticipationView(TypedDict):
    """This laboratory's participation in a round, with the scores reported back and the
    nonconformities they opened."""

    id: int
    provider_name: str
    round_code: str
    scheme_name: str
    round_date: str
    participant_code: str
    lab_code: str | None
    sample_code: str | None
    scores: list[dict[str, Any]]
    nonconformities: list[dict[str, Any]]


@with_config(OPEN)
class ParticipationList(TypedDict):
    items: list[ParticipationView]


@with_config(OPEN)
class PtSampleRegistered(TypedDict):
    participation_id: int
    sample_code: str
    status: str


@with_config(OPEN)
class ExternalScoreRecorded(TypedDict):
    id: int
    statistic: str
    z: float | None
    en: float | None
    classification: str | None
    nonconformity_id: int | None


@with_config(OPEN)
class PerformanceList(TypedDict):
    """Running performance per analyte: each round's z with the running RSZ, SSZ and AZ²."""

    items: list[dict[str, Any]]


@with_config(OPEN)
class NonconformityRow(TypedDict):
    id: int
    source: str
    source_ref: str
    description: str
    status: str
    owner: str
    due_date: str | None


@with_config(OPEN)
class NonconformityList(TypedDict):
    items: list[NonconformityRow]


@with_config(OPEN)
class NonconformityAdvanced(TypedDict):
    id: int
    status: str


#: The ``responses=`` of a chart route: SVG or PNG.
CHART_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {"schema": {"type": "string"}},
                      "image/png": {"schema": {"type": "string", "format": "binary"}}},
          "description": "the chart, SVG or PNG"}}
