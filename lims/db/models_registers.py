"""ORM models of the quality system's registers (issue 15; same metadata as lims.db.models): the instrument
register's quality data (calibration/verification, intermediate checks, maintenance, exceptions), reagent
and reference-material lots with their use, staff training and the authorisation matrix, environment
monitoring. Services in lims.quality.instruments / materials / staff / environment."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base


class InstrumentRegister(Base):
    """The register entry of an acquisition :class:`~lims.db.models.Instrument` (one per instrument): asset
    data and the calibration / intermediate-check intervals (RB/T 214 4.4.3; 17025 6.4)."""

    __tablename__ = "instrument_register"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), unique=True)
    asset_no: Mapped[str] = mapped_column(String(60), default="")
    manufacturer: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial_no: Mapped[str] = mapped_column(String(120), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    calibration_interval_days: Mapped[int] = mapped_column(Integer, default=365)
    check_interval_days: Mapped[int | None] = mapped_column(Integer)
    in_service: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InstrumentCheck(Base):
    """A calibration, verification (检定/校准), intermediate check (期间核查), maintenance or repair."""

    __tablename__ = "instrument_check"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    kind: Mapped[str] = mapped_column(String(30))  # InstrumentCheckKind
    performed_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date)  # next one due (calibration, intermediate check)
    provider: Mapped[str] = mapped_column(String(200), default="")
    certificate_no: Mapped[str] = mapped_column(String(120), default="")
    certificate_sha256: Mapped[str] = mapped_column(String(64), default="")
    certificate_name: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # CheckOutcome
    acceptance: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_instrument_check_inst", "instrument_id", "kind", "performed_on"),)


class InstrumentException(Base):
    """A QA manager's justified, time-limited permission for an unfit instrument to feed results."""

    __tablename__ = "instrument_exception"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    justification: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(120))
    valid_from: Mapped[dt.datetime] = mapped_column()
    valid_until: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MaterialLot(Base):
    """A lot of a reagent, standard or reference material, or a solution prepared in the lab from a parent
    lot (derivation: parent, dilution factor, preparer)."""

    __tablename__ = "material_lot"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(30))  # MaterialKind
    name: Mapped[str] = mapped_column(String(200))
    analyte_code: Mapped[str] = mapped_column(String(60), default="")
    supplier: Mapped[str] = mapped_column(String(200), default="")
    lot_no: Mapped[str] = mapped_column(String(120), default="")
    certificate_no: Mapped[str] = mapped_column(String(120), default="")
    concentration: Mapped[float | None] = mapped_column(Float)
    concentration_unit: Mapped[str] = mapped_column(String(30), default="")
    uncertainty: Mapped[float | None] = mapped_column(Float)  # expanded, same unit
    manufactured_on: Mapped[dt.date | None] = mapped_column(Date)
    expires_on: Mapped[dt.date] = mapped_column(Date)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    in_use_days: Mapped[int | None] = mapped_column(Integer)
    storage: Mapped[str] = mapped_column(String(200), default="")
    parent_lot_id: Mapped[int | None] = mapped_column(ForeignKey("material_lot.id"))
    dilution_factor: Mapped[float | None] = mapped_column(Float)
    prepared_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MaterialUse(Base):
    """A lot used by a batch (and, when given, by one of its curves)."""

    __tablename__ = "material_use"
    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"))
    curve_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_curve.id"))
    used_on: Mapped[dt.date] = mapped_column(Date)
    __table_args__ = (Index("ix_material_use_lot", "lot_id"), Index("ix_material_use_batch", "batch_id"))


class TrainingRecord(Base):
    """Training attended or a competence assessment (17025 6.2.5)."""

    __tablename__ = "training_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(20))  # TrainingKind
    title: Mapped[str] = mapped_column(String(200))
    method_id: Mapped[int | None] = mapped_column(ForeignKey("method.id"))
    completed_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(20))  # CheckOutcome
    assessor: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffAuthorisation(Base):
    """One cell of the authorisation matrix: person × method (× instrument, NULL = any) with what they may
    do and when. ``may_sign`` is mirrored by :class:`~lims.db.models.MethodSignatory` (the signatory list)."""

    __tablename__ = "staff_authorisation"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    method_id: Mapped[int] = mapped_column(ForeignKey("method.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instrument.id"))
    may_test: Mapped[bool] = mapped_column(Boolean, default=False)
    may_review: Mapped[bool] = mapped_column(Boolean, default=False)
    may_sign: Mapped[bool] = mapped_column(Boolean, default=False)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    granted_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    __table_args__ = (Index("ix_staff_auth_user_method", "user_id", "method_id"),)


class EnvLocation(Base):
    """A monitored room, refrigerator or sample store with its limits and its Modbus sensor."""

    __tablename__ = "env_location"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # EnvLocationKind
    temp_min_c: Mapped[float | None] = mapped_column(Float)
    temp_max_c: Mapped[float | None] = mapped_column(Float)
    rh_min_pct: Mapped[float | None] = mapped_column(Float)
    rh_max_pct: Mapped[float | None] = mapped_column(Float)
    sensor_url: Mapped[str] = mapped_column(String(300), default="")  # modbus-tcp://host:port
    device_id: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EnvReading(Base):
    """One temperature/humidity record; out of range → ``alarm`` text and the nonconformity opened."""

    __tablename__ = "env_reading"
    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("env_location.id"))
    at: Mapped[dt.datetime] = mapped_column()
    temperature_c: Mapped[float | None] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(30), default="manual")  # manual | modbus
    alarm: Mapped[str] = mapped_column(String(300), default="")
    nonconformity_id: Mapped[int | None] = mapped_column(ForeignKey("nonconformity.id"))
    __table_args__ = (Index("ix_env_reading_loc", "location_id", "at"),
                      UniqueConstraint("location_id", "at"))
