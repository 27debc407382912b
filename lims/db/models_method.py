"""ORM models of a method's quantitation settings and validation data (same metadata as lims.db.models).

- *method_qc*: one row per method — the calibration strategy it declares (:class:`CalibrationStrategy`),
  its batch-QC limits (spike recovery range, duplicate RPD, CCV drift, blank as a fraction of the
  reporting limit, reference-material bias) and its identification rule (none / SANTE / GB 23200). A
  method without a row uses the SANTE/11312/2021 routine defaults (:data:`calibration.qc.SANTE_ROUTINE_LIMITS`)
  and external-standard calibration.
- *method_validation*: the lab's validation data per method × analyte × matrix (a commodity, or every
  commodity when ``commodity_id`` is NULL): mean recovery with its SD and number of replicates, the
  intermediate precision RSD (u(Rw)) and u(Cref) of the spiking solution — what the top-down uncertainty
  of a result is computed from (Nordtest TR 537; :mod:`lims.services.uncertainty`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base


class MethodQc(Base):
    __tablename__ = "method_qc"
    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"), unique=True)
    #: CalibrationStrategy (lims.vocabulary)
    calibration_strategy: Mapped[str] = mapped_column(String(30), default="external_standard")
    recovery_min_percent: Mapped[float] = mapped_column(Float, default=60.0)
    recovery_max_percent: Mapped[float] = mapped_column(Float, default=140.0)
    duplicate_max_rpd_percent: Mapped[float] = mapped_column(Float, default=20.0)
    ccv_max_drift_percent: Mapped[float] = mapped_column(Float, default=20.0)
    blank_max_fraction_of_rl: Mapped[float] = mapped_column(Float, default=0.3)
    reference_max_bias_percent: Mapped[float] = mapped_column(Float, default=20.0)
    #: none | sante | gb23200 (calibration.qc.IDENTIFICATION_RULES)
    identification: Mapped[str] = mapped_column(String(20), default="none")
    #: The method's own identification windows (NULL: the rule's): RT in min or in % of the reference RT,
    #: ion ratio in % relative.
    rt_tolerance_min: Mapped[float | None] = mapped_column(Float)
    rt_tolerance_percent: Mapped[float | None] = mapped_column(Float)
    ion_ratio_tolerance_percent: Mapped[float | None] = mapped_column(Float)
    #: u(Cref) of the spiking solution (%, relative), for the uncertainty from long-run spike recoveries.
    spike_u_cref_percent: Mapped[float | None] = mapped_column(Float)
    #: Where the limits come from (e.g. "SANTE/11312/2021 v2 routine; GB 23200.113-2018 identification").
    source: Mapped[str] = mapped_column(String(300), default="")


class MethodValidation(Base):
    __tablename__ = "method_validation"
    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    analyte_id: Mapped[int] = mapped_column(ForeignKey("analyte.id"))
    commodity_id: Mapped[int | None] = mapped_column(ForeignKey("commodity.id"))
    level_mg_kg: Mapped[float | None] = mapped_column(Float)
    recovery_mean_percent: Mapped[float] = mapped_column(Float)
    recovery_sd_percent: Mapped[float] = mapped_column(Float)
    recovery_n: Mapped[int] = mapped_column(Integer)
    #: Intermediate precision (within-lab reproducibility) RSD in % — u(Rw).
    rsd_rw_percent: Mapped[float] = mapped_column(Float)
    u_cref_percent: Mapped[float] = mapped_column(Float, default=0.0)
    validated_on: Mapped[dt.date | None] = mapped_column(Date)
    #: The validation report it comes from (number, date, who approved it).
    reference: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (UniqueConstraint("method_id", "analyte_id", "commodity_id"),)
