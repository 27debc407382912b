"""Plain data describing one test report (检验检测报告), and its content hash.

The fields cover every item ISO/IEC 17025:2017 clause 7.8.2.1 a-p requires of a test
report, plus Chinese practice (RB/T 214, CMA): the CMA mark, the three signatures
(检验 tester, 审核 checker, 批准 approver) and the inspection seal.  Every signature is
an electronic-signature manifestation per 21 CFR Part 11 §11.50: printed name, date and
time (with its timezone) and meaning.

Map of clause 7.8.2.1 to fields:

a) title ........................... ``TestReport.title`` (defaults by language)
b) lab name and address ............ ``TestReport.laboratory``
c) location of the activities ...... ``TestReport.testing_location``
d) unique ID on every page, end .... ``TestReport.report_id`` (the renderer prints it on every
                                     page and closes with an end-of-report mark)
e) customer ........................ ``TestReport.customer`` (+ ``monitoring_task``)
f) method(s) ....................... ``TestReport.methods`` (+ ``ResultLine.method_code``)
g) item description, identification
   and condition ................... ``TestReport.sample`` (``SampleItem``, ``SamplingRecord``)
h) date of receipt, sampling date .. ``SampleItem.received_on``, ``SamplingRecord.sampled_at``
i) dates of testing ................ ``TestReport.testing_started_on`` / ``testing_completed_on``
j) date of issue ................... ``TestReport.issued_on``
k) sampling plan / method .......... ``SamplingRecord.sampling_plan`` / ``sampling_method``
l) "results relate only to the
   items tested" ................... printed by the renderer (``ITEMS_TESTED_STATEMENT``)
m) results with units .............. ``TestReport.results`` (``ResultLine``)
n) deviations, additions, exclusions ``TestReport.deviations``
o) person(s) authorising ........... ``TestReport.signatures`` (role ``approver``)
p) results from external providers . ``ResultLine.external_provider``

Values in ``ResultLine`` are text exactly as they are to be printed (already rounded by
the reporting rules); the renderer never rounds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lims.vocabulary import CONFORMITY_VERDICTS
from lims.vocabulary import Verdict as Verdict  # re-exported: one Verdict, decided, stored and printed

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")

#: Version tag mixed into the canonical JSON, so a change of the schema changes every hash.
#: /2: result lines carry ``screening``, ``result_version``, their own ``signatures`` and a ``warning``;
#: the report carries its ``statements``.
CANONICAL_SCHEMA = "lims.reports.TestReport/2"

#: ISO/IEC 17025:2017 7.8.2.1 l), in the wording used on Chinese reports.
ITEMS_TESTED_STATEMENT_ZH = "本报告结果仅对所检样品负责。"
ITEMS_TESTED_STATEMENT_EN = "The results relate only to the items tested."


class ReportDataError(ValueError):
    """The report data is incomplete or inconsistent; the message names the field."""


class SignatureRole(enum.StrEnum):
    """The three signatures of a Chinese test report (RB/T 214): 检验, 审核, 批准."""

    TESTER = "tester"
    CHECKER = "checker"
    APPROVER = "approver"


class DeviationKind(enum.StrEnum):
    """ISO/IEC 17025:2017 7.8.2.1 n): deviations from, additions to or exclusions from the method."""

    DEVIATION = "deviation"
    ADDITION = "addition"
    EXCLUSION = "exclusion"


def _require(value: str | None, where: str) -> None:
    if value is None or not str(value).strip():
        raise ReportDataError(f"{where}: must not be empty / 不能为空")


def _require_aware(value: dt.datetime, where: str) -> None:
    if not isinstance(value, dt.datetime):
        raise ReportDataError(f"{where}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ReportDataError(f"{where}: date-time must carry a timezone / 必须带时区 ({value.isoformat()})")


@dataclass(frozen=True)
class Laboratory:
    """7.8.2.1 b): the laboratory's name and address; the CMA certificate number for the mark."""

    name: str
    address: str
    cma_certificate_number: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        _require(self.name, "laboratory.name")
        _require(self.address, "laboratory.address")


@dataclass(frozen=True)
class Customer:
    """7.8.2.1 e): the customer (委托单位), for monitoring work the issuing authority."""

    name: str
    address: str | None = None
    contact: str | None = None

    def __post_init__(self) -> None:
        _require(self.name, "customer.name")


@dataclass(frozen=True)
class MonitoringTask:
    """The monitoring task the sample belongs to (例行监测, 专项监测, 监督抽查, 风险监测)."""

    code: str
    name: str
    programme_type: str
    issuing_authority: str

    def __post_init__(self) -> None:
        _require(self.code, "monitoring_task.code")
        _require(self.issuing_authority, "monitoring_task.issuing_authority")


@dataclass(frozen=True)
class MethodRef:
    """7.8.2.1 f): a method used, by its standard code (e.g. ``GB 23200.113-2018``) and title."""

    code: str
    title: str

    def __post_init__(self) -> None:
        _require(self.code, "methods[].code")


@dataclass(frozen=True)
class Producer:
    """The producer sampled (受检单位), from the supervision directory (监管名录库)."""

    name: str
    unified_social_credit_code: str | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        _require(self.name, "sample.sampling.producer.name")


@dataclass(frozen=True)
class SamplingRecord:
    """7.8.2.1 h), k) and 7.8.2.2: the sampling record (抽样单).

    ``region_code`` is the GB/T 2260 administrative division code of ``place``;
    ``sampling_link`` is the link of the chain sampled (生产基地, 采收前, 上市前, 屠宰前, 批发, 零售).
    """

    sampled_at: dt.datetime
    place: str
    region_code: str
    sampling_link: str
    producer: Producer
    samplers: tuple[str, ...]
    sampling_plan: str
    sampling_method: str
    certificate_code: str | None = None
    traceability_code: str | None = None

    def __post_init__(self) -> None:
        _require_aware(self.sampled_at, "sample.sampling.sampled_at")
        _require(self.place, "sample.sampling.place")
        _require(self.sampling_plan, "sample.sampling.sampling_plan")
        _require(self.sampling_method, "sample.sampling.sampling_method")
        if not (len(self.region_code) == 6 and self.region_code.isdigit()):
            raise ReportDataError(
                f"sample.sampling.region_code: {self.region_code!r} is not a 6-digit GB/T 2260 code"
            )
        if not self.samplers:
            raise ReportDataError("sample.sampling.samplers: at least one sampler / 至少一名抽样人")


@dataclass(frozen=True)
class SampleItem:
    """7.8.2.1 g), h): the item tested, its unambiguous identification and condition."""

    sample_id: str
    commodity: str
    description: str
    condition_on_receipt: str
    quantity: str
    received_on: dt.date
    sampling: SamplingRecord

    def __post_init__(self) -> None:
        _require(self.sample_id, "sample.sample_id")
        _require(self.commodity, "sample.commodity")
        _require(self.condition_on_receipt, "sample.condition_on_receipt")


@dataclass(frozen=True)
class ResultLine:
    """7.8.2.1 m), p): one reported result, with its unit, limits, uncertainty and verdict.

    ``result_text`` is as printed ("0.12", "< LOQ", "未检出(<LOD)"); ``mrl_text`` is the
    limit and ``mrl_source`` its standard and edition (e.g. "GB 2763-2021"); the expanded
    uncertainty U is given with its coverage factor k.  ``external_provider`` names the
    provider when the result was obtained outside the laboratory (7.8.2.1 p).
    """

    analyte: str
    result_text: str
    unit: str
    method_code: str
    verdict: Verdict
    lod_text: str | None = None
    loq_text: str | None = None
    mrl_text: str | None = None
    mrl_source: str | None = None
    expanded_uncertainty_text: str | None = None
    coverage_factor: float | None = None
    external_provider: str | None = None
    #: A rapid screening call (no conformity decision): its verdict cell reads "screening only".
    screening: bool = False
    #: The result version reported, and who tested, checked and approved THAT version.
    result_version: int = 1
    signatures: tuple[SignatureManifestation, ...] = ()
    #: A warning printed under the line (e.g. a limit row not yet verified against its standard).
    warning: str | None = None

    def __post_init__(self) -> None:
        _require(self.analyte, "results[].analyte")
        _require(self.result_text, f"results[{self.analyte}].result_text")
        _require(self.unit, f"results[{self.analyte}].unit")
        if not isinstance(self.verdict, Verdict) or self.verdict not in CONFORMITY_VERDICTS:
            raise ReportDataError(f"results[{self.analyte}].verdict: {self.verdict!r} is not a conformity Verdict")
        if self.expanded_uncertainty_text is not None and self.coverage_factor is None:
            raise ReportDataError(
                f"results[{self.analyte}].coverage_factor: required with an expanded uncertainty"
            )
        if self.coverage_factor is not None and not (
            math.isfinite(self.coverage_factor) and self.coverage_factor > 0
        ):
            raise ReportDataError(
                f"results[{self.analyte}].coverage_factor: {self.coverage_factor!r} is not > 0"
            )


@dataclass(frozen=True)
class Deviation:
    """7.8.2.1 n): one deviation from, addition to or exclusion from the method."""

    kind: DeviationKind
    description: str


@dataclass(frozen=True)
class Conformity:
    """7.8.6: the statement of conformity and the decision rule applied (ILAC-G8:09/2019)."""

    statement: str
    decision_rule: str
    decision_rule_text: str

    def __post_init__(self) -> None:
        _require(self.statement, "conformity.statement")
        _require(self.decision_rule_text, "conformity.decision_rule_text")


@dataclass(frozen=True)
class SignatureManifestation:
    """21 CFR Part 11 §11.50: printed name, date-time with timezone, meaning of the signature."""

    role: SignatureRole
    printed_name: str
    signed_at: dt.datetime
    meaning: str

    def __post_init__(self) -> None:
        _require(self.printed_name, f"signatures[{self.role}].printed_name")
        _require(self.meaning, f"signatures[{self.role}].meaning")
        _require_aware(self.signed_at, f"signatures[{self.role}].signed_at")


@dataclass(frozen=True)
class Amendment:
    """ISO/IEC 17025:2017 7.8.8: an amended report names the report it replaces and why."""

    supersedes_report_id: str
    reason: str

    def __post_init__(self) -> None:
        _require(self.supersedes_report_id, "amendment.supersedes_report_id")
        _require(self.reason, "amendment.reason")


@dataclass(frozen=True)
class TestReport:
    """One test report, plain data.  See the module docstring for the 7.8.2.1 mapping."""

    __test__ = False  # not a pytest test class despite the name

    report_id: str
    laboratory: Laboratory
    testing_location: str
    customer: Customer
    sample: SampleItem
    methods: tuple[MethodRef, ...]
    testing_started_on: dt.date
    testing_completed_on: dt.date
    issued_on: dt.date
    results: tuple[ResultLine, ...]
    conformity: Conformity
    signatures: tuple[SignatureManifestation, ...]
    monitoring_task: MonitoringTask | None = None
    deviations: tuple[Deviation, ...] = ()
    version: int = 1
    amendment: Amendment | None = None
    title: str | None = None
    verify_base_url: str | None = None
    language: Language = "zh-CN"
    notes: tuple[str, ...] = field(default=())
    #: The statements block (声明), each "中文 English"; empty: the validity statements only.
    statements: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        _require(self.report_id, "report_id")
        _require(self.testing_location, "testing_location")
        if self.language not in LANGUAGES:
            raise ReportDataError(f"language: {self.language!r} is not one of {', '.join(LANGUAGES)}")
        if not self.methods:
            raise ReportDataError("methods: at least one method / 至少一个检测方法")
        if not self.results:
            raise ReportDataError("results: at least one result / 至少一个检测结果")
        if self.testing_completed_on < self.testing_started_on:
            raise ReportDataError(
                f"testing_completed_on: {self.testing_completed_on} is before testing_started_on "
                f"{self.testing_started_on}"
            )
        if self.issued_on < self.testing_completed_on:
            raise ReportDataError(
                f"issued_on: {self.issued_on} is before testing_completed_on {self.testing_completed_on}"
            )
        roles = [s.role for s in self.signatures]
        for role in SignatureRole:
            if roles.count(role) != 1:
                raise ReportDataError(
                    f"signatures: exactly one {role.value} signature required, found {roles.count(role)}"
                )
        if self.version < 1:
            raise ReportDataError(f"version: {self.version} must be >= 1")
        if (self.amendment is None) != (self.version == 1):
            raise ReportDataError(
                "amendment: a version > 1 must name the report it supersedes, and version 1 must not "
                f"(version={self.version}, amendment={'set' if self.amendment else 'none'})"
            )
        if self.amendment is not None and self.amendment.supersedes_report_id == self.report_id:
            raise ReportDataError("amendment.supersedes_report_id: an amendment needs a new report_id")

    def signature(self, role: SignatureRole) -> SignatureManifestation:
        """The signature manifestation for ``role`` (exactly one exists)."""
        return next(s for s in self.signatures if s.role == role)


def _canonical(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canonical(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ReportDataError(f"{where}: {value!r} cannot be hashed (not finite)")
        return value
    if value is None or isinstance(value, str | int | bool):
        return value
    raise ReportDataError(f"{where}: {type(value).__name__} is not canonical report data")


def iter_text_fields(report: TestReport) -> Iterator[tuple[str, str]]:
    """Every text value in the report with its field path (``report.sample.commodity``)."""

    def walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str):
            yield where, value
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from walk(item, f"{where}[{i}]")

    yield from walk(_canonical(report, "report"), "report")


def canonical_json(report: TestReport) -> bytes:
    """The report's canonical content: UTF-8 JSON, sorted keys, no whitespace, schema-tagged.

    Dates and date-times are ISO 8601 (date-times keep their UTC offset); enums by value.
    """
    doc = {"schema": CANONICAL_SCHEMA, "report": _canonical(report, "report")}
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


def content_hash(report: TestReport) -> str:
    """SHA-256 (lower-case hex) of :func:`canonical_json`: the report's verification hash."""
    return hashlib.sha256(canonical_json(report)).hexdigest()
