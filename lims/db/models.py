"""Typed ORM models of the first domain (SQLAlchemy 2).

Names follow the domain: a *sample* carries its sampling record (GB/T 2260 region, sampling link,
合格证 / 追溯码), an *analysis* is one analyte by one method on one sample, a *result* is a
versioned value of an analysis (a correction is a new version that names the one it supersedes),
a *raw capture* keeps every byte an instrument sent before it is parsed.

Status, kind and verdict columns hold the values of the :mod:`lims.vocabulary` enums (plain strings in
the database); a status changes only through :func:`lims.workflow.transition`. The audit trail, outbox,
hub and token tables are in :mod:`lims.db.models_system`, proficiency testing in :mod:`lims.db.models_pt`.
"""
# size: over 500 lines — the core record chain (lab, people, methods, samples, analyses, batches, QC,
# curves, results, signatures, reports) stays in one module so its relations read in one place; other
# areas live in models_*.py and are re-exported at the end.

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lims.clock import as_utc, utcnow
from lims.vocabulary import FROZEN_RESULT_STATUSES as FROZEN_RESULT_STATUSES  # re-exported (lived here)
from lims.vocabulary import (
    AnalysisKind,
    AnalysisStatus,
    AssignmentStatus,
    BatchStatus,
    ParseStatus,
    QcOutcome,
    ReportStatus,
    ResultStatus,
    SampleStatus,
    Verdict,
)
from lims.vocabulary import Role as Role  # re-exported (lived here)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Instants stored in UTC and read back timezone-aware on both databases (SQLite keeps no offset:
    an aware local time would otherwise be stored as if it were UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        value = as_utc(value)  # naive values in this code base are UTC
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return as_utc(value)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UtcDateTime()}


class Lab(Base):
    __tablename__ = "lab"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    region_code: Mapped[str] = mapped_column(String(12), default="")
    cma_number: Mapped[str] = mapped_column(String(60), default="")


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("lab.id"))
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: UserKind (0014_account_lifecycle): a person, or a service account (API keys, never signs).
    kind: Mapped[str] = mapped_column(String(20), default="person", server_default="person")
    #: Set by an administrator's password reset: the next login may only change the password.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    #: The web UI's language, kept per user (0026_user_language): "zh-CN" (default) or "en".
    language: Mapped[str] = mapped_column(String(10), default="zh-CN", server_default="zh-CN")
    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                 lazy="selectin")

    #: Usernames are unique whatever their case (0014_account_lifecycle; lims.services.auth normalises them).
    __table_args__ = (Index("uq_user_account_username_lower", func.lower(username), unique=True),)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}


class UserRole(Base):
    __tablename__ = "user_role"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(20))
    user: Mapped[User] = relationship(back_populates="roles")
    __table_args__ = (UniqueConstraint("user_id", "role"),)


class Method(Base):
    __tablename__ = "method"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    standard: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # AnalysisKind
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    #: The method's LOD and LOQ in mg/kg whatever its reporting ``unit`` (columns ``lod``, ``loq``).
    lod_mg_kg: Mapped[float | None] = mapped_column("lod", Float)
    loq_mg_kg: Mapped[float | None] = mapped_column("loq", Float)
    #: ISO/IEC 17025 7.8.6 decision rule applied to this method's results.
    decision_rule: Mapped[str] = mapped_column(String(30), default="simple_acceptance")
    #: Reporting precision (0010_report_rounding): significant figures or decimals in the result's unit;
    #: both null = the SANTE/11312/2021 default (< 10 mg/kg 2 figures, ≥ 10 mg/kg 3). GB/T 8170 rounding.
    report_figures: Mapped[int | None] = mapped_column(Integer)
    report_decimals: Mapped[int | None] = mapped_column(Integer)


class MethodScope(Base):
    """A method's scope (检测能力范围): which analytes it determines, in which commodity categories."""

    __tablename__ = "method_scope"
    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    analyte_id: Mapped[int] = mapped_column(ForeignKey("analyte.id"))
    #: This analyte's reporting precision in the method, over the method's (0010_report_rounding).
    report_figures: Mapped[int | None] = mapped_column(Integer)
    report_decimals: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("method_id", "analyte_id"),)


class MethodSignatory(Base):
    """Who holds signatory authority (授权签字人) for a method."""

    __tablename__ = "method_signatory"
    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    __table_args__ = (UniqueConstraint("method_id", "user_id"),)


class Analyte(Base):
    __tablename__ = "analyte"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    cas: Mapped[str] = mapped_column(String(30), default="")
    kind: Mapped[str] = mapped_column(String(30), default="pesticide")  # pesticide | vet_drug | banned | group


class Commodity(Base):
    __tablename__ = "commodity"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(120), default="")  # GB 2763-2021 Annex A
    # classification (lims/limits, 0012): group above it, CommodityLevel, other names ("|"-separated)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("commodity.id"))
    level: Mapped[str] = mapped_column(String(20), default="commodity", server_default="commodity")
    aliases: Mapped[str] = mapped_column(String(300), default="", server_default="")


class Limit(Base):
    """A maximum residue limit or a ban, always with its source standard and edition."""

    __tablename__ = "limit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    commodity_id: Mapped[int | None] = mapped_column(ForeignKey("commodity.id"))
    analyte_id: Mapped[int] = mapped_column(ForeignKey("analyte.id"))
    residue_definition: Mapped[str] = mapped_column(String(300), default="")
    limit_type: Mapped[str] = mapped_column(String(20))  # MRL | banned
    value_mg_kg: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    source_standard: Mapped[str] = mapped_column(String(100))
    source_clause: Mapped[str] = mapped_column(String(200), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())  # vs the standard's text
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)


class Producer(Base):
    """Supervision directory (监管名录库) entry: enterprise, cooperative or family farm."""

    __tablename__ = "producer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), default="")  # 统一社会信用代码
    kind: Mapped[str] = mapped_column(String(30), default="enterprise")
    region_code: Mapped[str] = mapped_column(String(12), default="")
    address: Mapped[str] = mapped_column(String(300), default="")


class Instrument(Base):
    __tablename__ = "instrument"
    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("lab.id"))
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    profile: Mapped[str] = mapped_column(String(100))
    transport_url: Mapped[str] = mapped_column(String(300), default="")
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_at: Mapped[dt.datetime | None] = mapped_column()
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    # records the device sent again right after we acknowledged them (a late ACK; 0008_acq_resend)
    duplicate_resends: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: a device silent longer than this (seconds) raises a link alert; since when it is silent (0028)
    expected_interval_s: Mapped[float | None] = mapped_column(Float)
    silent_since: Mapped[dt.datetime | None] = mapped_column()
    heard_at: Mapped[dt.datetime | None] = mapped_column()  # last byte or poll reply from the device (0029)


class Sample(Base):
    __tablename__ = "sample"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("lab.id"))
    commodity_id: Mapped[int] = mapped_column(ForeignKey("commodity.id"))
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("producer.id"))
    task_code: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[str] = mapped_column(String(60), default="")
    sampled_at: Mapped[dt.datetime | None] = mapped_column()
    sampling_place: Mapped[str] = mapped_column(String(300), default="")
    region_code: Mapped[str] = mapped_column(String(12), default="")  # GB/T 2260
    sampling_link: Mapped[str] = mapped_column(String(30), default="")  # 采收前 / 上市前 / 屠宰前 / ...
    certificate_no: Mapped[str] = mapped_column(String(80), default="")  # 合格证
    trace_code: Mapped[str] = mapped_column(String(80), default="")  # 追溯码
    samplers: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[dt.datetime | None] = mapped_column()
    condition: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default=SampleStatus.REGISTERED)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    commodity: Mapped[Commodity] = relationship(lazy="joined")
    producer: Mapped[Producer | None] = relationship(lazy="joined")
    __table_args__ = (Index("ix_sample_status", "status"), Index("ix_sample_created", "created_at"),
                      Index("ix_sample_status_id", "status", "id"))


class Batch(Base):
    __tablename__ = "batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("lab.id"))
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instrument.id"))
    status: Mapped[str] = mapped_column(String(20), default=BatchStatus.OPEN)  # BatchStatus (lims.workflow)
    qc_summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Analysis(Base):
    __tablename__ = "analysis"
    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"))
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    analyte_id: Mapped[int] = mapped_column(ForeignKey("analyte.id"))
    kind: Mapped[str] = mapped_column(String(20), default=AnalysisKind.SCREENING)  # AnalysisKind
    status: Mapped[str] = mapped_column(String(20), default=AnalysisStatus.PENDING)  # AnalysisStatus
    sample_mass_g: Mapped[float | None] = mapped_column(Float)
    extract_volume_ml: Mapped[float | None] = mapped_column(Float)
    dilution_factor: Mapped[float] = mapped_column(Float, default=1.0)
    requested_by_analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analysis.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sample: Mapped[Sample] = relationship(lazy="joined")
    method: Mapped[Method] = relationship(lazy="joined")
    analyte: Mapped[Analyte] = relationship(lazy="joined")
    __table_args__ = (Index("ix_analysis_sample", "sample_id"),)


class Result(Base):
    """One version of an analysis result. Content is frozen once certified."""

    __tablename__ = "result"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analysis.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("result.id"))
    value: Mapped[float | None] = mapped_column(Float)  # in `unit`; None for qualitative / < LOD
    value_text: Mapped[str] = mapped_column(String(60), default="")  # as reported, e.g. "0.12", "< LOQ"
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    qualitative: Mapped[str] = mapped_column(String(20), default="")  # Qualitative, or "" (quantitative)
    inhibition_percent: Mapped[float | None] = mapped_column(Float)
    lod: Mapped[float | None] = mapped_column(Float)  # in `unit`, like the value
    loq: Mapped[float | None] = mapped_column(Float)  # in `unit`
    expanded_uncertainty: Mapped[float | None] = mapped_column(Float)
    coverage_factor: Mapped[float | None] = mapped_column(Float)
    limit_id: Mapped[int | None] = mapped_column(ForeignKey("limit_entry.id"))
    decision_rule: Mapped[str] = mapped_column(String(30), default="")
    verdict: Mapped[str] = mapped_column(String(40), default=Verdict.NOT_EVALUATED)  # Verdict
    source: Mapped[str] = mapped_column(String(20), default="instrument")  # instrument | manual | calculated
    reading_id: Mapped[int | None] = mapped_column(ForeignKey("reading.id"))
    curve_id: Mapped[int | None] = mapped_column(Integer)
    manual_reason: Mapped[str] = mapped_column(Text, default="")
    #: Calculation trail (response, curve, mass, volume, dilution, recovery, rounding) as recorded.
    details: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    status: Mapped[str] = mapped_column(String(20), default=ResultStatus.TO_BE_REVIEWED)
    analyst_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    analysis: Mapped[Analysis] = relationship(lazy="joined")
    __table_args__ = (
        UniqueConstraint("analysis_id", "version"),
        Index("ix_result_status", "status"),
        Index("ix_result_status_id", "status", "id"),
    )


class Signature(Base):
    """An electronic signature bound to one record version (21 CFR 11.50, 11.70)."""

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(primary_key=True)
    record_type: Mapped[str] = mapped_column(String(30))
    record_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    printed_name: Mapped[str] = mapped_column(String(120))
    meaning: Mapped[str] = mapped_column(String(30))  # SignatureMeaning
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    record_hash: Mapped[str] = mapped_column(String(64))
    #: One signature per meaning per record version (0016_audit_integrity): a double submit is refused.
    __table_args__ = (Index("ix_signature_record", "record_type", "record_id"),
                      Index("uq_signature_meaning", "record_type", "record_id", "meaning", unique=True))


class RawCapture(Base):
    """Bytes exactly as an instrument sent them, stored before any parsing."""

    __tablename__ = "raw_capture"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stream_offset: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(100))
    parse_status: Mapped[str] = mapped_column(String(20), default=ParseStatus.PENDING)  # ParseStatus (six values)
    error: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")  # file name, peer, register block (0004_acq)
    unit_sha256: Mapped[str | None] = mapped_column(String(64))  # the whole line/message/reply/file (0004_acq)
    __table_args__ = (Index("ix_raw_capture_status", "parse_status"),
                      Index("ix_raw_capture_unit", "instrument_id", "unit_sha256"))


class Reading(Base):
    """A parsed instrument reading linked to instrument, channel, sample ID and time."""

    __tablename__ = "reading"
    id: Mapped[int] = mapped_column(primary_key=True)
    raw_capture_id: Mapped[int] = mapped_column(ForeignKey("raw_capture.id"))
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    record_type: Mapped[str] = mapped_column(String(30))
    channel: Mapped[int | None] = mapped_column(Integer)
    sample_code: Mapped[str | None] = mapped_column(String(60))
    run_no: Mapped[str] = mapped_column(String(30), default="")
    fields: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    read_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # value state (lims.acquisition.values), profile units, review hold ('' = none) (0009_acq_values)
    value_state: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    units: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    review_hold: Mapped[str] = mapped_column(String(300), default="", server_default="")


class Report(Base):
    __tablename__ = "report"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_no: Mapped[str] = mapped_column(String(60))
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    lang: Mapped[str] = mapped_column(String(10), default="zh-CN")
    path: Mapped[str] = mapped_column(String(400))
    file_sha256: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    amendment_reason: Mapped[str] = mapped_column(Text, default="")
    #: The conclusion as printed (检测结论), for the public verification page (0011_report_conclusion).
    conclusion: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default=ReportStatus.ISSUED)  # ReportStatus
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("report_no", "version"),)


class MonitoringTask(Base):
    """A monitoring task (例行监测 / 专项监测 / 监督抽查 / 风险监测) with its issuing authority."""

    __tablename__ = "monitoring_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    programme_type: Mapped[str] = mapped_column(String(30))  # routine | special | supervisory | risk
    issuing_authority: Mapped[str] = mapped_column(String(200))
    required_analytes: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    sampling_plan: Mapped[str] = mapped_column(Text, default="")
    random_seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The task as the province published it on the hub (lims.upstream.schema.TaskNotice: version, period,
    #: quotas by county and commodity); None for a task created in the lab (0021_task_notice).
    hub_notice: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]


class Inspector(Base):
    """A sampling inspector (抽样人员) who may be drawn for 双随机 sampling."""

    __tablename__ = "inspector"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    credential_no: Mapped[str] = mapped_column(String(60), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SamplingAssignment(Base):
    """One line of a task's sampling plan: a producer drawn at random and the inspectors drawn for it."""

    __tablename__ = "sampling_assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("monitoring_task.id"))
    producer_id: Mapped[int] = mapped_column(ForeignKey("producer.id"))
    inspector_ids: Mapped[list] = mapped_column(JSON, default=list)  # type: ignore[type-arg]
    sampling_link: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(20), default=AssignmentStatus.PLANNED)  # AssignmentStatus
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"))
    draw_order: Mapped[int] = mapped_column(Integer, default=0)


class CustodyEvent(Base):
    """Chain of custody (样品流转): receipt, condition, storage, sub-samples, retention, disposal."""

    __tablename__ = "custody_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    kind: Mapped[str] = mapped_column(String(20))  # CustodyKind
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    location: Mapped[str] = mapped_column(String(200), default="")
    condition: Mapped[str] = mapped_column(String(200), default="")
    sub_sample_code: Mapped[str] = mapped_column(String(60), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    keep_until: Mapped[dt.date | None] = mapped_column(Date)  # 留样期限 of a retained sample (0027)
    temperature_c: Mapped[float | None] = mapped_column(Float)  # on receipt, °C (0027)
    __table_args__ = (Index("ix_custody_sample", "sample_id"),)


class QcSample(Base):
    """A batch QC sample and its outcome; a failed QC holds the batch's results."""

    __tablename__ = "qc_sample"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"))
    kind: Mapped[str] = mapped_column(String(30))  # QcKind
    analyte_id: Mapped[int | None] = mapped_column(ForeignKey("analyte.id"))
    nominal_value: Mapped[float | None] = mapped_column(Float)
    measured_value: Mapped[float | None] = mapped_column(Float)
    second_value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    outcome: Mapped[str] = mapped_column(String(10), default=QcOutcome.PENDING)  # QcOutcome
    metric: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalibrationCurve(Base):
    """A versioned standard curve: points, model, weighting, parameters and acceptance outcome."""

    __tablename__ = "calibration_curve"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"))
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    analyte_id: Mapped[int] = mapped_column(ForeignKey("analyte.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    model: Mapped[str] = mapped_column(String(20))
    weight: Mapped[str] = mapped_column(String(10), default="none")
    points: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    params: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    residual_sd: Mapped[float | None] = mapped_column(Float)
    r2: Mapped[float | None] = mapped_column(Float)
    acceptance: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    passed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: DIN 32645 limits in the curve's concentration unit (the standards', e.g. mg/L of extract), not the
    #: sample's mg/kg (columns ``lod``, ``loq``).
    lod_curve_units: Mapped[float | None] = mapped_column("lod", Float)
    loq_curve_units: Mapped[float | None] = mapped_column("loq", Float)
    fit: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]  # calibration.stored record; NULL: none
    strategy: Mapped[str] = mapped_column(String(30), default="external_standard", server_default="external_standard")
    strategy_detail: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]  # ME %, IS, RT/ion refs…
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Models of other areas live in their own modules and share this metadata; these names stay importable here.
from lims.db import (  # noqa: E402,F401
    models_method,  # noqa: E402,F401
    models_pt,  # noqa: E402,F401
    models_quality,
    models_registers,
)
from lims.db.models_acquisition import InstrumentEvent as InstrumentEvent  # noqa: E402
from lims.db.models_acquisition import InstrumentWorklist as InstrumentWorklist  # noqa: E402
from lims.db.models_acquisition import ReadingDisposition as ReadingDisposition  # noqa: E402
from lims.db.models_hub import HubLabKey as HubLabKey  # noqa: E402
from lims.db.models_hub import HubReceipt as HubReceipt  # noqa: E402
from lims.db.models_system import ApiToken as ApiToken  # noqa: E402
from lims.db.models_system import AuditEvent as AuditEvent  # noqa: E402
from lims.db.models_system import AuthGeneration as AuthGeneration  # noqa: E402
from lims.db.models_system import LoginFailure as LoginFailure  # noqa: E402
from lims.db.models_system import OutboxItem as OutboxItem  # noqa: E402
from lims.db.models_system import OutboxMessage as OutboxMessage  # noqa: E402
