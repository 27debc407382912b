"""The canonical upstream record: pydantic models that are the single source of the versioned JSON Schemas
(draft 2020-12) served at ``/api/v1/schemas/`` and used to validate every payload at both ends (the lab
before queueing, the hub on receipt).

Semantics follow EFSA's Standard Sample Description ver. 2 (SSD2, EFSA Supporting Publications 2013:EN-500):
a *sampling event* (programme, strategy ``sampStrategy`` random/selective/suspect, sampling point), a
*sample* (product, origin), an *analysis* (lab, accreditation, method, screening vs confirmation
``anMethType``), a *result* (``resType`` VAL/LOQ/LOD/BIN, value, unit, LOD, LOQ, uncertainty, recovery) and
its *evaluation* (limit, limit type, decision rule, ``evalCode``) and *action taken* — with the Chinese
identifiers beside them: the GB/T 2260 region, the producer's 统一社会信用代码 (GB 32100, 18 characters) or
traceability-platform entity code, the 合格证 number and 追溯码, the monitoring task code and programme type.

Wire shapes (field names camelCase, as in SSD2's element names):

* ``result-batch`` (``cn-agri-residue/2``): one sample's results of one certification, amendment or
  retraction, in result order, 1–100 per message. An amendment or retraction names the result it replaces
  (``supersedes``), and is never delivered before its original (per-sample ordering, lims.upstream.delivery).
* ``checkpoint`` (``lims-audit-checkpoint/1``): a signed head of the lab's audit chain (lims/db/anchors.py).
* ``task-progress`` (``cn-agri-task-progress/1``): samples taken and tested per monitoring task.
* ``task-notice`` (``cn-agri-task/1``): a monitoring task a province publishes, pulled by the lab from
  ``GET {hub}/hub/v1/tasks?lab=CODE`` (answer: ``task-list``).
* ``receipt``: the hub's 2xx answer; ``problem``: its refusal (RFC 9457 problem+json).

Each message is POSTed to ``{hub}/hub/v1/messages`` signed as in lims.upstream.signing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

RESULTS_SCHEMA = "cn-agri-residue/2"
CHECKPOINT_SCHEMA = "lims-audit-checkpoint/1"
PROGRESS_SCHEMA = "cn-agri-task-progress/1"
TASK_SCHEMA = "cn-agri-task/1"
MAX_RESULTS_PER_MESSAGE = 100
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

RegionCode = Annotated[str, Field(pattern=r"^[1-8][0-9]{5}$", description="GB/T 2260 行政区划代码 (6 digits)")]
CreditCode = Annotated[str, Field(pattern=r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$",
                                  description="统一社会信用代码 (GB 32100-2015, 18 characters)")]
Number = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[str, Field(max_length=300)]

ProgrammeType = Literal["routine", "special", "supervisory", "risk"]  # 例行/专项/监督抽查/风险监测
SamplingStrategy = Literal["random", "selective", "suspect"]  # SSD2 sampStrategy ST10 / ST20 / ST30
SamplingPoint = Literal["production_base", "before_harvest", "before_market", "before_slaughter", "wholesale",
                        "retail", "other"]
AnalysisKind = Literal["screening", "confirmatory"]  # SSD2 anMethType AT06 screening / AT08 confirmation
ResType = Literal["VAL", "LOQ", "LOD", "BIN"]  # SSD2 resType
EvalCode = Literal["compliant", "non_compliant", "compliant_within_uncertainty", "not_evaluated",
                   "banned_substance_detected"]
LimitType = Literal["MRL", "banned", "lab_judgement"]
ActionTaken = Literal["none", "confirmation_requested", "authority_notified"]  # SSD2 actTakenCode (subset)
Change = Literal["original", "amendment", "retraction"]


class Wire(BaseModel):
    """camelCase on the wire, no unknown fields, no NaN/Infinity."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              allow_inf_nan=False, frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class LabRef(Wire):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Text | None = None
    region_code: RegionCode | None = None
    #: CMA (检验检测机构资质认定) certificate number, when the lab holds one.
    cma_number: Annotated[str, Field(max_length=60)] | None = None


class SamplingEvent(Wire):
    task_code: Annotated[str, Field(max_length=60)] | None = None
    programme_type: ProgrammeType | None = None
    strategy: SamplingStrategy | None = None
    sampling_point: SamplingPoint | None = None
    region_code: RegionCode | None = None
    place: Text | None = None
    sampled_at: dt.datetime | None = None


class Producer(Wire):
    name: Text
    credit_code: CreditCode | None = None
    #: The entity code on the national traceability platform (国家农产品质量安全追溯管理信息平台).
    trace_entity_code: Annotated[str, Field(max_length=60)] | None = None
    kind: Annotated[str, Field(max_length=30)] | None = None
    region_code: RegionCode | None = None


class SampleRecord(Wire):
    code: Annotated[str, Field(min_length=1, max_length=60)]
    product_code: Annotated[str, Field(min_length=1, max_length=60)]
    product_name: Text | None = None
    origin_region_code: RegionCode | None = None
    certificate_no: Annotated[str, Field(max_length=80)] | None = None  # 承诺达标合格证编号
    trace_code: Annotated[str, Field(max_length=80)] | None = None  # 追溯码
    producer: Producer | None = None


class AnalysisRecord(Wire):
    analyte: Annotated[str, Field(min_length=1, max_length=60)]
    analyte_name: Text | None = None
    method: Annotated[str, Field(min_length=1, max_length=60)]
    standard: Text | None = None
    kind: AnalysisKind
    accredited: bool | None = None  # the lab's CMA covers the method (None: not recorded)
    analysed_at: dt.datetime | None = None


class ResultValue(Wire):
    res_type: ResType
    #: The value as reported: at the method's significant figures (GB/T 8170), not the stored full precision.
    value: Number | None = None
    value_text: Annotated[str, Field(max_length=60)] | None = None
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    lod: NonNegative | None = None
    loq: NonNegative | None = None
    expanded_uncertainty: NonNegative | None = None
    coverage_factor: NonNegative | None = None
    recovery_percent: NonNegative | None = None
    qualitative: Annotated[str, Field(max_length=20)] | None = None


class LimitRef(Wire):
    value: NonNegative | None = None
    unit: Annotated[str, Field(max_length=20)] | None = None
    limit_type: LimitType
    source: Text | None = None


class Evaluation(Wire):
    code: EvalCode
    limit: LimitRef | None = None
    decision_rule: Annotated[str, Field(max_length=40)] | None = None


class ResultItem(Wire):
    result_id: Annotated[int, Field(ge=1)]
    version: Annotated[int, Field(ge=1)]
    change: Change = "original"
    #: The lab's result id this one replaces (amendment) or withdraws (retraction).
    supersedes: Annotated[int, Field(ge=1)] | None = None
    reason: Text | None = None
    certified_at: dt.datetime | None = None
    analysis: AnalysisRecord
    result: ResultValue
    evaluation: Evaluation
    action_taken: ActionTaken = "none"


class ResultBatch(Wire):
    """One message: one sample's results of one unit of work, in result order."""

    schema_: Literal["cn-agri-residue/2"] = Field(RESULTS_SCHEMA, alias="schema")
    lab: LabRef
    sampling_event: SamplingEvent
    sample: SampleRecord
    results: Annotated[list[ResultItem], Field(min_length=1, max_length=MAX_RESULTS_PER_MESSAGE)]


class CheckpointMessage(Wire):
    """A signed head of the lab's audit chain (written by lims/db/anchors.py; signed over the canonical
    JSON of the other fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_: Literal["lims-audit-checkpoint/1"] = Field(CHECKPOINT_SCHEMA, alias="schema")
    lab: Annotated[str, Field(min_length=1, max_length=40)]
    seq: Annotated[int, Field(ge=0)]
    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    at: str
    key: Annotated[str, Field(min_length=1, max_length=64)]
    sig: Annotated[str, Field(min_length=1, max_length=200)]


class TaskQuota(Wire):
    county_code: RegionCode
    product_code: Annotated[str, Field(max_length=60)]
    samples: Annotated[int, Field(ge=0)]


class TaskNotice(Wire):
    """A monitoring task (例行监测 plan etc.) as the province publishes it on the hub."""

    schema_: Literal["cn-agri-task/1"] = Field(TASK_SCHEMA, alias="schema")
    code: Annotated[str, Field(min_length=1, max_length=60)]
    name: Text
    programme_type: ProgrammeType
    issuing_authority: Text
    version: Annotated[int, Field(ge=1)] = 1
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    required_analytes: list[Annotated[str, Field(max_length=60)]] = []
    quotas: list[TaskQuota] = []
    labs: list[Annotated[str, Field(max_length=40)]] = []  # labs assigned; empty: every lab of the region
    published_at: dt.datetime | None = None


class TaskList(Wire):
    """The hub's answer to ``GET /hub/v1/tasks?lab=CODE``."""

    tasks: list[TaskNotice]


class ProgressRow(Wire):
    county_code: RegionCode | None = None
    product_code: Annotated[str, Field(max_length=60)]
    taken: Annotated[int, Field(ge=0)]
    tested: Annotated[int, Field(ge=0)]


class TaskProgress(Wire):
    """The lab's progress against one task (samples taken and tested), sent as an outbox message."""

    schema_: Literal["cn-agri-task-progress/1"] = Field(PROGRESS_SCHEMA, alias="schema")
    lab: Annotated[str, Field(min_length=1, max_length=40)]
    task_code: Annotated[str, Field(min_length=1, max_length=60)]
    at: dt.datetime
    rows: list[ProgressRow]


class Receipt(Wire):
    """The hub's 2xx answer: its receipt id (stable: a re-sent message gets the stored one)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)
    receipt: int | str
    duplicate: bool = False


class Problem(BaseModel):
    """RFC 9457 problem details (the hub's refusal); ``rule`` names the business rule broken."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    rule: str | None = None


#: name → (model, version). The name and version make the schema's ``$id``.
SCHEMAS: dict[str, tuple[type[BaseModel], int]] = {
    "result-batch": (ResultBatch, 2),
    "checkpoint": (CheckpointMessage, 1),
    "task-progress": (TaskProgress, 1),
    "task-notice": (TaskNotice, 1),
    "task-list": (TaskList, 1),
    "receipt": (Receipt, 1),
    "problem": (Problem, 1),
}
#: The ``schema`` field of a message → its model (what the hub dispatches on).
MESSAGE_MODELS: dict[str, type[Wire]] = {RESULTS_SCHEMA: ResultBatch, CHECKPOINT_SCHEMA: CheckpointMessage,
                                         PROGRESS_SCHEMA: TaskProgress}


def json_schema(name: str, *, base_url: str = "urn:lims:schema") -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``name``; KeyError for an unknown name."""
    model, version = SCHEMAS[name]
    doc = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": f"{base_url.rstrip('/')}/{name}", "x-schema-version": version,
            **doc}


def schema_index() -> list[dict[str, Any]]:
    return [{"name": name, "version": version, "title": model.__name__,
             "description": (model.__doc__ or "").strip().split("\n")[0]}
            for name, (model, version) in SCHEMAS.items()]


class MessageInvalid(ValueError):
    """A payload that does not match its schema; ``problems`` are ``field.path: message`` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_message(doc: object) -> Wire:
    """The message's model instance, or MessageInvalid naming every field that is wrong."""
    from pydantic import ValidationError

    if not isinstance(doc, dict):
        raise MessageInvalid(["(body): a JSON object is required"])
    model = MESSAGE_MODELS.get(str(doc.get("schema")))
    if model is None:
        raise MessageInvalid([f"schema: unknown message schema {doc.get('schema')!r} "
                              f"(one of {', '.join(MESSAGE_MODELS)})"])
    try:
        return model.model_validate(doc, strict=False)
    except ValidationError as exc:
        raise MessageInvalid([f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                              for e in exc.errors()]) from None


TASK_LIST_ADAPTER = TypeAdapter(TaskList)
