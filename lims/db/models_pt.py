"""ORM models of proficiency testing (能力验证) and nonconformities (same metadata as lims.db.models).

Provider side (ISO/IEC 17043): a *scheme* runs *rounds*; a round has *analytes* (unit, minimum
required reporting level MRRL, the choice of assigned value and sigma_pt, and after scoring the
values used), *test items* with homogeneity/stability measurements (ISO 13528:2022 Annex B),
*participants* under anonymous codes, their *submissions* and *scores*.

Participant side: a *participation* is a round of any provider this lab took part in (linked to the
PT sample registered in the normal workflow); *external scores* are what the provider reported back.
An unsatisfactory score opens a *nonconformity* (ISO/IEC 17025:2017 7.10, 8.7).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.clock import utcnow
from lims.db.models import Base
from lims.vocabulary import NonconformityStatus, RoundStatus  # re-exported (they lived here)


class PtScheme(Base):
    __tablename__ = "pt_scheme"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PtRound(Base):
    __tablename__ = "pt_round"
    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("pt_scheme.id"))
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    matrix: Mapped[str] = mapped_column(String(200), default="")  # test material, e.g. 番茄匀浆
    deadline: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default=RoundStatus.DRAFT)
    #: Seed of the anonymous participant codes, recorded so the draw can be reproduced.
    code_seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    scored_at: Mapped[dt.datetime | None] = mapped_column()
    published_at: Mapped[dt.datetime | None] = mapped_column()
    scheme: Mapped[PtScheme] = relationship(lazy="joined")
    analytes: Mapped[list[PtRoundAnalyte]] = relationship(
        back_populates="round", order_by="PtRoundAnalyte.position", lazy="selectin")


class PtRoundAnalyte(Base):
    """One analyte of a round: scope (unit, MRRL, present in the item or not), the chosen
    assigned-value and sigma_pt methods, and after scoring the values used."""

    __tablename__ = "pt_round_analyte"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pt_round.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(60))
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    mrrl: Mapped[float] = mapped_column(Float)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    assigned_method: Mapped[str] = mapped_column(String(20), default="consensus")  # consensus | reference
    reference_value: Mapped[float | None] = mapped_column(Float)
    reference_u: Mapped[float | None] = mapped_column(Float)  # standard uncertainty u(x_pt)
    sigma_method: Mapped[str] = mapped_column(String(20), default="ffp")  # ffp | horwitz | robust
    ffp_rsd: Mapped[float | None] = mapped_column(Float, default=0.25)
    # filled by scoring
    assigned_value: Mapped[float | None] = mapped_column(Float)
    u_assigned: Mapped[float | None] = mapped_column(Float)
    sigma_pt: Mapped[float | None] = mapped_column(Float)
    robust_sd: Mapped[float | None] = mapped_column(Float)
    n_results: Mapped[int | None] = mapped_column(Integer)
    statistic: Mapped[str | None] = mapped_column(String(4))  # z | z'
    homogeneity: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    stability: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    round: Mapped[PtRound] = relationship(back_populates="analytes")
    __table_args__ = (UniqueConstraint("round_id", "code"),)


class PtTestItem(Base):
    """One unit of test material (homogeneity items are numbered; dispatched ones name the participant)."""

    __tablename__ = "pt_test_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pt_round.id"))
    code: Mapped[str] = mapped_column(String(60))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("pt_participant.id"))
    __table_args__ = (UniqueConstraint("round_id", "code"),)


class PtItemMeasurement(Base):
    """A homogeneity or stability measurement of one test item (ISO 13528:2022 Annex B)."""

    __tablename__ = "pt_item_measurement"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pt_test_item.id"))
    round_analyte_id: Mapped[int] = mapped_column(ForeignKey("pt_round_analyte.id"))
    study: Mapped[str] = mapped_column(String(20))  # homogeneity | stability_before | stability_after
    replicate: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    __table_args__ = (UniqueConstraint("item_id", "round_analyte_id", "study", "replicate"),)


class PtParticipant(Base):
    __tablename__ = "pt_participant"
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pt_round.id"))
    code: Mapped[str] = mapped_column(String(20))  # anonymous code printed in reports
    lab_code: Mapped[str] = mapped_column(String(60))
    lab_name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200), default="")
    # combined scores over the round (filled by scoring)
    az2: Mapped[float | None] = mapped_column(Float)
    rsz: Mapped[float | None] = mapped_column(Float)
    ssz: Mapped[float | None] = mapped_column(Float)
    false_positives: Mapped[int | None] = mapped_column(Integer)
    false_negatives: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (UniqueConstraint("round_id", "code"), UniqueConstraint("round_id", "lab_code"))


class PtParticipantAccount(Base):
    """An account that may submit and read the results of one participant (0015_pt_accounts_verify_runs)."""

    __tablename__ = "pt_participant_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("pt_participant.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    __table_args__ = (UniqueConstraint("participant_id", "user_id"),)


class PtSubmission(Base):
    """A participant's result for one analyte; ``result`` None means not detected (< LOQ)."""

    __tablename__ = "pt_submission"
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("pt_participant.id"))
    round_analyte_id: Mapped[int] = mapped_column(ForeignKey("pt_round_analyte.id"))
    result: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(120), default="")
    loq: Mapped[float | None] = mapped_column(Float)
    expanded_uncertainty: Mapped[float | None] = mapped_column(Float)
    coverage_factor: Mapped[float | None] = mapped_column(Float)
    recovery_percent: Mapped[float | None] = mapped_column(Float)
    channel: Mapped[str] = mapped_column(String(10), default="api")  # web | api | csv
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("participant_id", "round_analyte_id"),)


class PtScore(Base):
    """Performance statistics of one submission (ISO 13528:2022 Clause 9) and its detection outcome."""

    __tablename__ = "pt_score"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("pt_submission.id"), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("pt_participant.id"))
    round_analyte_id: Mapped[int] = mapped_column(ForeignKey("pt_round_analyte.id"))
    d: Mapped[float | None] = mapped_column(Float)
    d_percent: Mapped[float | None] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float)
    z_prime: Mapped[float | None] = mapped_column(Float)
    statistic: Mapped[str | None] = mapped_column(String(4))
    score: Mapped[float | None] = mapped_column(Float)
    classification: Mapped[str | None] = mapped_column(String(20))
    zeta: Mapped[float | None] = mapped_column(Float)
    en: Mapped[float | None] = mapped_column(Float)
    en_action: Mapped[bool | None] = mapped_column(Boolean)
    detection: Mapped[str] = mapped_column(String(20), default="")  # true positive | false negative | ...


class PtParticipation(Base):
    """Participant side: a round of any provider that this laboratory took part in."""

    __tablename__ = "pt_participation"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_name: Mapped[str] = mapped_column(String(200))
    round_code: Mapped[str] = mapped_column(String(60))
    scheme_name: Mapped[str] = mapped_column(String(200), default="")
    lab_id: Mapped[int | None] = mapped_column(ForeignKey("lab.id"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"))
    participant_code: Mapped[str] = mapped_column(String(40), default="")
    round_date: Mapped[dt.date] = mapped_column(Date)
    responsible: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("provider_name", "round_code"),)


class PtExternalScore(Base):
    """A score reported back by the provider (computed from its x_pt and sigma_pt when not given)."""

    __tablename__ = "pt_external_score"
    id: Mapped[int] = mapped_column(primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("pt_participation.id"))
    analyte: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(20), default="mg/kg")
    result: Mapped[float] = mapped_column(Float)
    assigned_value: Mapped[float] = mapped_column(Float)
    sigma_pt: Mapped[float] = mapped_column(Float)
    u_assigned: Mapped[float | None] = mapped_column(Float)
    expanded_uncertainty: Mapped[float | None] = mapped_column(Float)
    statistic: Mapped[str] = mapped_column(String(4), default="z")
    z: Mapped[float] = mapped_column(Float)
    en: Mapped[float | None] = mapped_column(Float)
    classification: Mapped[str] = mapped_column(String(20))
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("participation_id", "analyte"),)


class Nonconformity(Base):
    """Nonconforming work and its corrective action (ISO/IEC 17025:2017 7.10, 8.7):
    open → root_cause → action → verified → closed. Raised from any source (NcSource); what it affects,
    its actions and its links are in lims.db.models_quality; services in lims.quality.nonconformity."""

    __tablename__ = "nonconformity"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))  # pt | audit | complaint | qc ...
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=NonconformityStatus.OPEN)
    owner: Mapped[str] = mapped_column(String(120), default="")
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    root_cause: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    verification: Mapped[str] = mapped_column(Text, default="")
    #: Issue 15: risk grade (NcRisk), who raised it, containment taken (7.10.1).
    risk: Mapped[str] = mapped_column(String(20), default="medium", server_default="medium")
    raised_by: Mapped[str] = mapped_column(String(120), default="", server_default="")
    containment: Mapped[str] = mapped_column(Text, default="", server_default="")
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    __table_args__ = (Index("ix_nonconformity_status", "status"),)
