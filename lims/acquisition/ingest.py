"""The one step every stored unit goes through: already seen → ``duplicate``, else parse and count.

A *unit* is what a device sends once and may send again (a line, a binary reply, a register block, an
export file, an ASTM message); its identity is ``RawCapture.unit_sha256``. A unit whose identity was parsed
into readings before (resent after a lost ACK, a disconnect or a restart) is kept as a ``duplicate``
capture and gives no second reading.

Capture ``parse_status``: ``pending`` (stored, not parsed yet), ``parsed``, ``error`` (content did not parse;
kept with its typed error, re-parseable), ``rejected`` (damaged in transmission and asked again: an ASTM
frame that was NAKed, a binary exchange without a valid reply), ``incomplete`` (part of a unit cut by a
disconnect or reboot; the unit is sent again), ``duplicate`` (a unit received again whose readings exist).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.errors import DriverError
from lims.db.models import RawCapture, Reading
from lims.quality.instruments import hold_unfit

if TYPE_CHECKING:
    from drivers.profiles import Profile
    from lims.acquisition.dialects import Dialect


log = logging.getLogger("lims.acquire")


class ParseFailure(DriverError):
    """A unit (message, reply, register block, file) whose content does not give readings."""


class Quarantined(DriverError):
    """A unit whose parsing failed in a way no dialect anticipated (a reader's untyped error, a value the
    database refused): kept ``error`` with this reason so that it never stops a runner, start-up settling or
    the service's start."""


def fail(cap: RawCapture, exc: BaseException, status: str = "error") -> None:
    """Keep ``cap`` with its typed error (``Type: message``)."""
    cap.parse_status = status
    cap.error = f"{type(exc).__name__}: {exc}"


def parsed(cap: RawCapture) -> None:
    cap.parse_status, cap.error = "parsed", ""


@dataclass(frozen=True)
class Ingested:
    """What :func:`ingest` did with one unit: ``status`` (``parsed``, ``error`` or ``duplicate``), the
    readings it gave and the capture's error."""

    status: str
    readings: tuple[Reading, ...] = ()
    error: str = ""
    inserted: int | None = None  # readings inserted without ORM objects (the ASTM runner's fast path)

    @property
    def reading_count(self) -> int:
        return len(self.readings) if self.inserted is None else self.inserted


@dataclass
class Tally:
    """Counts of units stored and of what they gave (runners, start-up settling and re-parsing)."""

    captures: int = 0
    readings: int = 0
    errors: int = 0
    duplicates: int = 0

    def count(self, outcome: Ingested) -> None:
        if outcome.status == "duplicate":
            self.duplicates += 1
        elif outcome.status == "parsed":
            self.readings += outcome.reading_count
        else:
            self.errors += 1


def unit_parsed(s: Session, instrument_id: int, unit: str, *, exclude_id: int | None = None) -> bool:
    """True if a unit with this identity was already parsed into readings for this instrument."""
    q = select(RawCapture.id).where(RawCapture.instrument_id == instrument_id, RawCapture.unit_sha256 == unit,
                                    RawCapture.parse_status == "parsed")
    if exclude_id is not None:
        q = q.where(RawCapture.id != exclude_id)
    return s.execute(q.limit(1)).first() is not None


def ingest(s: Session, cap: RawCapture, dialect: Dialect, profile: Profile | None) -> Ingested:
    """Already seen → mark ``cap`` ``duplicate``; else parse it with its dialect (``parsed`` or ``error``).
    The unit identity comes from the dialect (:meth:`~lims.acquisition.dialects.Dialect.unit`) and is
    stored on the capture."""
    try:
        unit = dialect.unit(profile, cap)
    except Exception as exc:  # an identity that cannot be computed is that of the bytes
        log.warning("capture %s: unit identity failed (%s); using its bytes", cap.id, exc)
        unit = cap.sha256
    cap.unit_sha256 = unit
    if unit_parsed(s, cap.instrument_id, unit, exclude_id=cap.id):
        cap.parse_status, cap.error = "duplicate", ""
        return Ingested("duplicate")
    readings = guarded_parse(s, cap, dialect, profile)
    return Ingested(cap.parse_status, tuple(readings), cap.error)


def guarded_parse(s: Session, cap: RawCapture, dialect: Dialect, profile: Profile | None) -> list[Reading]:
    """``dialect.parse`` inside a savepoint: an error nobody anticipated (an untyped reader error, a value
    the database refuses on flush) rolls back that capture's readings only and keeps the capture ``error``
    with a :class:`Quarantined` reason; the caller's transaction and the other captures go on."""
    s.flush()
    try:
        with s.begin_nested():
            readings = dialect.parse(s, cap, profile)
            s.flush()
    except Exception as exc:
        log.exception("capture %s quarantined: parsing it failed unexpectedly", cap.id)
        fail(cap, Quarantined(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:1500]))
        s.flush()
        return []
    if readings and hold_unfit(s, readings):  # an overdue/failed instrument feeds no result (issue 15)
        s.flush()
    return readings


@dataclass
class AcquisitionStats(Tally):
    """Counts of a re-parse or of bytes fed to a runner, with the new readings' ids, their record types and
    the errors' messages."""

    reading_ids: list[int] = field(default_factory=list)
    error_messages: list[str] = field(default_factory=list)
    record_types: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: Ingested) -> None:
        super().count(outcome)
        if outcome.status == "parsed":
            self.reading_ids.extend(r.id for r in outcome.readings)
            self.record_types.update(r.record_type for r in outcome.readings)
        elif outcome.status != "duplicate":
            self.error_messages.append(outcome.error)
