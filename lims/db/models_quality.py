"""ORM models of the quality system (issue 15; same metadata as lims.db.models): what a nonconformity
affects and the actions taken on it, QC runs judged by the Westgard multirule, audits and inspections with
their findings and evidence, complaints, controlled documents. The nonconformity itself is
:class:`lims.db.models_pt.Nonconformity` (it began with PT scores)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base


class NcLink(Base):
    """A record a nonconformity affects or came from, and the containment applied to it (7.10.1)."""

    __tablename__ = "nc_link"
    id: Mapped[int] = mapped_column(primary_key=True)
    nonconformity_id: Mapped[int] = mapped_column(ForeignKey("nonconformity.id"))
    kind: Mapped[str] = mapped_column(String(20))  # NcLinkKind
    ref: Mapped[str] = mapped_column(String(200))  # the record's code (report no, batch code, method code…)
    containment: Mapped[str] = mapped_column(String(20), default="note")  # Containment
    note: Mapped[str] = mapped_column(Text, default="")
    lifted_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_nc_link_ref", "kind", "ref"),)


class CapaAction(Base):
    """A corrective action with its owner and due date (8.7.1 d)."""

    __tablename__ = "capa_action"
    id: Mapped[int] = mapped_column(primary_key=True)
    nonconformity_id: Mapped[int] = mapped_column(ForeignKey("nonconformity.id"))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(120))
    due_date: Mapped[dt.date] = mapped_column(Date)
    done_at: Mapped[dt.datetime | None] = mapped_column()
    done_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QcRun(Base):
    """A run of control materials judged by the Westgard multirule (calibration.westgard)."""

    __tablename__ = "qc_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    material: Mapped[str] = mapped_column(String(120))
    analyte: Mapped[str] = mapped_column(String(120))
    instrument: Mapped[str] = mapped_column(String(60), default="")
    method: Mapped[str] = mapped_column(String(60), default="")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"))
    rules: Mapped[str] = mapped_column(String(200))
    accepted: Mapped[bool] = mapped_column(Boolean)
    warnings: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    rejections: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    run_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_qc_run_chart", "material", "analyte", "instrument"),)


class QcRunValue(Base):
    __tablename__ = "qc_run_value"
    id: Mapped[int] = mapped_column(primary_key=True)
    qc_run_id: Mapped[int] = mapped_column(ForeignKey("qc_run.id"))
    level: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    sd: Mapped[float] = mapped_column(Float)


class QcTarget(Base):
    """Target mean and SD of a control material level on an analyte and instrument: set, or from the lab's
    own data (≥ 20 runs)."""

    __tablename__ = "qc_target"
    id: Mapped[int] = mapped_column(primary_key=True)
    material: Mapped[str] = mapped_column(String(120))
    analyte: Mapped[str] = mapped_column(String(120))
    instrument: Mapped[str] = mapped_column(String(60), default="")
    level: Mapped[str] = mapped_column(String(40))
    mean: Mapped[float] = mapped_column(Float)
    sd: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))  # set | lab_data
    n_runs: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("material", "analyte", "instrument", "level"),)


class MethodWestgard(Base):
    """The Westgard rules a method's QC runs are judged by (NULL row: the default set by level count)."""

    __tablename__ = "method_westgard"
    id: Mapped[int] = mapped_column(primary_key=True)
    method_code: Mapped[str] = mapped_column(String(60), unique=True)
    rules: Mapped[str] = mapped_column(String(200))


class AuditProgramme(Base):
    __tablename__ = "audit_programme"
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QualityAudit(Base):
    """An audit or inspection (AuditKind) over a set of clauses."""

    __tablename__ = "quality_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("audit_programme.id"))
    kind: Mapped[str] = mapped_column(String(20))  # AuditKind
    title: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    clauses: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]  # clause ids (lims/quality/clauses.csv)
    lead_auditor: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(20), default="planned")  # AuditStatus
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditFinding(Base):
    __tablename__ = "audit_finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("quality_audit.id"))
    clause: Mapped[str] = mapped_column(String(30))
    grade: Mapped[str] = mapped_column(String(20))  # FindingGrade
    description: Mapped[str] = mapped_column(Text)
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QualityEvidence(Base):
    """A file attached to an audit, finding, nonconformity or complaint, stored by its SHA-256."""

    __tablename__ = "quality_evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(20))  # audit | finding | nonconformity | complaint
    owner_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(400))
    uploaded_by: Mapped[str] = mapped_column(String(120), default="")
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Complaint(Base):
    """A complaint (17025 7.9)."""

    __tablename__ = "complaint"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    complainant: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="received")  # ComplaintStatus
    resolution: Mapped[str] = mapped_column(Text, default="")
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ControlledDocument(Base):
    """An SOP or form under document control (17025 8.3)."""

    __tablename__ = "controlled_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # sop | form | manual | procedure
    review_interval_months: Mapped[int] = mapped_column(Integer, default=12)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DocumentVersion(Base):
    __tablename__ = "document_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("controlled_document.id"))
    version: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # DocumentStatus
    sha256: Mapped[str] = mapped_column(String(64), default="")
    approved_by: Mapped[str] = mapped_column(String(120), default="")
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    next_review_on: Mapped[dt.date | None] = mapped_column(Date)
    distribution: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]  # holders of controlled copies
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("document_id", "version"),)
