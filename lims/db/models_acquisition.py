"""ORM models of instrument acquisition beyond raw captures and readings (same metadata as lims.db.models)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.clock import utcnow
from lims.db.models import Base


class InstrumentEvent(Base):
    """Something an instrument's runs or link did that a person must see (an incomplete run, a sequence
    gap, records given up after retries, a file refused) (0009_acq_values; lims.acquisition.events)."""

    __tablename__ = "instrument_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    run_no: Mapped[str] = mapped_column(String(30), default="")
    raw_capture_id: Mapped[int | None] = mapped_column(ForeignKey("raw_capture.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_instrument_event_inst", "instrument_id", "id"),)


class ReadingDisposition(Base):
    """What a person did with an unmatched reading (issue 13, lims.acquisition.unmatched): ``assigned`` to
    an analysis (its result names the reading) or ``dismissed`` with a reason (0024_reading_disposition)."""

    __tablename__ = "reading_disposition"
    id: Mapped[int] = mapped_column(primary_key=True)
    reading_id: Mapped[int] = mapped_column(ForeignKey("reading.id"), unique=True)
    action: Mapped[str] = mapped_column(String(20))  # assigned | dismissed
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analysis.id"))
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InstrumentWorklist(Base):
    """A worklist built from a batch or the open queue for one instrument (issue 13, lims.acquisition.orders):
    positions → sample codes → analyses (``entries``), sent by ``lims acquire`` as ASTM orders or Modbus
    sample IDs, or applied to the next run of a tester without sample IDs on the wire
    (0028_instrument_worklist). ``status``: pending → sent | applied | failed | cancelled."""

    __tablename__ = "instrument_worklist"
    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"))
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    run_no: Mapped[str] = mapped_column(String(30), default="")  # the run a channel worklist was applied to
    detail: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_instrument_worklist_inst", "instrument_id", "status", "id"),)
