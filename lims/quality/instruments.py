"""The instrument register (ISO/IEC 17025:2017 6.4; RB/T 214 4.4.3): calibration and verification
(检定/校准) with certificates, due dates and acceptance; intermediate checks (期间核查); maintenance and
repairs; and whether an instrument may feed results now (:func:`fitness`).

An instrument whose calibration is overdue or failed, whose last intermediate check failed, that was never
calibrated or is out of service is *unfit*: acquisition holds its readings for review
(:func:`hold_reason`, called by lims.acquisition.ingest and the ASTM store), unless a QA manager recorded a
justified, time-limited exception (:func:`grant_exception`). :func:`raise_overdue` opens one nonconformity
per overdue instrument (lims.quality.nonconformity). Services take a Session and never commit.

A calibration certificate's file is kept in the evidence folder under its SHA-256 (``LIMS_EVIDENCE_DIR``, by
the one writer :func:`lims.quality.audits.store_evidence`); :func:`certificate_file` reads it back, checked
against the SHA-256 its check recorded on every read. `lims backup` / `lims restore` carry it (lims/ops).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lims import filestore
from lims.clock import as_utc, utcnow
from lims.db.models import Instrument, Reading
from lims.db.models_quality import NcLink
from lims.db.models_registers import InstrumentCheck, InstrumentException, InstrumentRegister
from lims.quality import audits, nonconformity
from lims.quality.common import choice, file_digest, ordered, text
from lims.quality.documents import Gone
from lims.quality.registers_vocab import CheckOutcome, Fitness, InstrumentCheckKind
from lims.quality.vocabulary import NcLinkKind, NcRisk, NcSource
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import get_by_code

#: Checks that set when the next calibration is due.
CALIBRATING = (InstrumentCheckKind.CALIBRATION, InstrumentCheckKind.VERIFICATION)
#: The prefix of a reading's ``review_hold`` set for an unfit instrument (release: lims.acquisition.holds).
HOLD_PREFIX = "instrument unfit"


def register(s: Session, code: str, *, asset_no: str = "", manufacturer: str = "", model: str = "",
             serial_no: str = "", location: str = "", calibration_interval_days: int = 365,
             check_interval_days: int | None = None, in_service: bool = True) -> InstrumentRegister:
    """Create or update the register entry of acquisition instrument ``code``."""
    inst = get_by_code(s, Instrument, code, field="instrument")
    if calibration_interval_days <= 0 or (check_interval_days is not None and check_interval_days <= 0):
        raise InvalidInput("intervals must be positive numbers of days", field="calibration_interval_days",
                           code="quality.bad_value")
    reg = s.execute(select(InstrumentRegister).where(InstrumentRegister.instrument_id == inst.id)).scalar_one_or_none()
    if reg is None:
        reg = InstrumentRegister(instrument_id=inst.id)
        s.add(reg)
    reg.asset_no, reg.manufacturer, reg.model = asset_no.strip(), manufacturer.strip(), model.strip()
    reg.serial_no, reg.location, reg.in_service = serial_no.strip(), location.strip(), in_service
    reg.calibration_interval_days, reg.check_interval_days = calibration_interval_days, check_interval_days
    s.flush()
    return reg


def record_check(s: Session, code: str, *, kind: str, performed_on: dt.date, outcome: str, recorded_by: str,
                 due_on: dt.date | None = None, provider: str = "", certificate_no: str = "",
                 certificate: bytes | None = None, certificate_name: str = "",
                 acceptance: str = "") -> InstrumentCheck:
    """Record a calibration/verification (certificate and acceptance), intermediate check, maintenance or
    repair. A calibration without ``due_on`` is due after the register's interval; an instrument not yet in
    the register is entered with the default interval."""
    inst = get_by_code(s, Instrument, code, field="instrument")
    kind = choice(InstrumentCheckKind, kind, "kind")
    outcome = choice(CheckOutcome, outcome, "outcome")
    ordered(performed_on, due_on, "performed_on", "due_on")
    if performed_on > utcnow().date():
        raise InvalidInput(f"performed_on {performed_on} is in the future", field="performed_on",
                           code="quality.dates_out_of_order")
    reg = s.execute(select(InstrumentRegister).where(InstrumentRegister.instrument_id == inst.id)).scalar_one_or_none()
    if reg is None:  # a check puts the instrument under the register
        reg = register(s, code)
    if kind in CALIBRATING and due_on is None:
        due_on = performed_on + dt.timedelta(days=reg.calibration_interval_days)
    if kind in CALIBRATING and outcome != CheckOutcome.NOT_APPLICABLE and not certificate_no.strip():
        raise InvalidInput("a calibration or verification needs its certificate number", field="certificate_no",
                           code="quality.missing_text")
    row = InstrumentCheck(instrument_id=inst.id, kind=kind, performed_on=performed_on, due_on=due_on,
                          provider=provider.strip(), certificate_no=certificate_no.strip(),
                          certificate_sha256=_keep_certificate(certificate),
                          certificate_name=certificate_name.strip(), outcome=outcome, acceptance=acceptance.strip(),
                          recorded_by=text(recorded_by, "recorded_by"))
    s.add(row)
    s.flush()
    return row


def grant_exception(s: Session, code: str, *, justification: str, granted_by: str, valid_until: dt.datetime,
                    valid_from: dt.datetime | None = None, max_days: int = 30) -> InstrumentException:
    """A QA manager's justified, time-limited exception (at most ``max_days``) letting an unfit instrument
    feed results (the caller checks the role: API permission registers:exception)."""
    inst = get_by_code(s, Instrument, code, field="instrument")
    start = as_utc(valid_from) if valid_from else utcnow()
    until = as_utc(valid_until)
    ordered(start, until, "valid_from", "valid_until")
    if until - start > dt.timedelta(days=max_days):
        raise InvalidInput(f"an exception lasts at most {max_days} days", field="valid_until",
                           code="quality.exception_too_long")
    row = InstrumentException(instrument_id=inst.id, justification=text(justification, "justification"),
                              granted_by=text(granted_by, "granted_by"), valid_from=start, valid_until=until)
    s.add(row)
    s.flush()
    return row


@dataclass(frozen=True)
class FitnessState:
    instrument: str
    fitness: str  # Fitness
    calibration_due: dt.date | None
    reason: str
    exception_until: dt.datetime | None = None

    @property
    def may_feed(self) -> bool:
        return self.fitness in (Fitness.FIT, Fitness.EXCEPTION)


def _last(s: Session, instrument_id: int, kinds: Sequence[str]) -> InstrumentCheck | None:
    return s.execute(select(InstrumentCheck).where(InstrumentCheck.instrument_id == instrument_id,
                                                   InstrumentCheck.kind.in_(list(kinds)))
                     .order_by(InstrumentCheck.performed_on.desc(), InstrumentCheck.id.desc()).limit(1)).scalars().first()


def _unfit(s: Session, instrument_id: int, on: dt.date) -> tuple[str, dt.date | None, str]:
    reg = s.execute(select(InstrumentRegister).where(InstrumentRegister.instrument_id == instrument_id)).scalar_one_or_none()
    cal = _last(s, instrument_id, CALIBRATING)
    due = cal.due_on if cal else None
    if reg is not None and not reg.in_service:
        return Fitness.OUT_OF_SERVICE, due, "out of service"
    if cal is None:
        return (Fitness.NEVER, None, "no calibration on record") if reg is not None else (Fitness.FIT, None, "")
    if cal.outcome == CheckOutcome.FAIL:
        return Fitness.FAILED, due, f"{cal.kind} {cal.performed_on} failed (certificate {cal.certificate_no})"
    if due is not None and due < on:
        return Fitness.OVERDUE, due, f"calibration due {due} is overdue"
    check = _last(s, instrument_id, (InstrumentCheckKind.INTERMEDIATE,))
    if check is not None and check.outcome == CheckOutcome.FAIL and check.performed_on >= cal.performed_on:
        return Fitness.FAILED, due, f"intermediate check {check.performed_on} failed"
    return Fitness.FIT, due, ""


def fitness(s: Session, instrument_id: int, at: dt.datetime | None = None) -> FitnessState:
    """May the instrument feed results at ``at``? Instruments without a register entry are not under the
    register yet and stay fit (an instrument entered in the register without a calibration is not)."""
    at = as_utc(at) if at else utcnow()
    inst = s.get(Instrument, instrument_id)
    code = inst.code if inst else str(instrument_id)
    state, due, reason = _unfit(s, instrument_id, at.date())
    if state == Fitness.FIT:
        return FitnessState(code, state, due, "")
    exc = s.execute(select(InstrumentException).where(
        InstrumentException.instrument_id == instrument_id, InstrumentException.valid_from <= at,
        InstrumentException.valid_until > at).order_by(InstrumentException.valid_until.desc())).scalars().first()
    if exc is not None:
        return FitnessState(code, Fitness.EXCEPTION, due, f"{reason}; exception by {exc.granted_by}",
                            as_utc(exc.valid_until))
    return FitnessState(code, state, due, reason)


def hold_reason(s: Session, instrument_id: int, at: dt.datetime | None = None) -> str:
    """The ``review_hold`` text for a reading of this instrument taken at ``at`` ('' = fit)."""
    st = fitness(s, instrument_id, at)
    return "" if st.may_feed else f"{HOLD_PREFIX}: {st.reason}"[:300]


def hold_unfit(s: Session, readings: Sequence[Reading]) -> int:
    """Hold the readings of an unfit instrument (acquisition calls this as it stores them; an overdue
    calibration opens its nonconformity if none is open); returns how many."""
    held = 0
    cache: dict[tuple[int, dt.date], str] = {}
    for r in readings:
        if r.review_hold:
            continue
        at = as_utc(r.read_at) if r.read_at else utcnow()
        key = (r.instrument_id, at.date())
        if key not in cache:
            st = fitness(s, r.instrument_id, at)
            cache[key] = "" if st.may_feed else f"{HOLD_PREFIX}: {st.reason}"[:300]
            if st.fitness == Fitness.OVERDUE:  # the overdue calibration opens its nonconformity (once)
                _overdue_nc(s, st, "system", utcnow().date())
        if cache[key]:
            r.review_hold = cache[key]
            held += 1
    return held


def release_excepted(s: Session, code: str, *, at: dt.datetime | None = None) -> int:
    """Release the readings held for unfitness that were taken while an exception covers them."""
    inst = get_by_code(s, Instrument, code, field="instrument")
    rows = s.execute(select(Reading).where(Reading.instrument_id == inst.id,
                                           Reading.review_hold.like(f"{HOLD_PREFIX}%"))).scalars().all()
    n = 0
    for r in rows:
        if fitness(s, inst.id, as_utc(r.read_at)).fitness == Fitness.EXCEPTION and (at is None or as_utc(r.read_at) <= as_utc(at)):
            r.review_hold = ""
            n += 1
    s.flush()
    return n


def checks_of(s: Session, code: str) -> list[InstrumentCheck]:
    inst = get_by_code(s, Instrument, code, field="instrument")
    return list(s.execute(select(InstrumentCheck).where(InstrumentCheck.instrument_id == inst.id)
                          .order_by(InstrumentCheck.performed_on, InstrumentCheck.id)).scalars())


def schedule(s: Session, *, today: dt.date | None = None, within_days: int = 30) -> list[FitnessState]:
    """Registered instruments with their fitness, the unfit and those due within ``within_days`` first."""
    today = today or utcnow().date()
    at = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    out = [fitness(s, reg.instrument_id, at) for reg in s.execute(select(InstrumentRegister)).scalars()]
    horizon = today + dt.timedelta(days=within_days)
    return sorted(out, key=lambda f: (f.may_feed, f.calibration_due is None or f.calibration_due > horizon,
                                      f.calibration_due or dt.date.max, f.instrument))


def raise_overdue(s: Session, *, raised_by: str = "system", today: dt.date | None = None) -> list[int]:
    """Open a nonconformity for each instrument whose calibration is overdue (one per instrument while it
    is open); returns the new nonconformity ids."""
    today = today or utcnow().date()
    new = [_overdue_nc(s, st, raised_by, today) for st in schedule(s, today=today) if st.fitness == Fitness.OVERDUE]
    return [i for i in new if i is not None]


def _overdue_nc(s: Session, st: FitnessState, raised_by: str, today: dt.date) -> int | None:
    known = s.execute(select(NcLink.id).where(NcLink.kind == NcLinkKind.INSTRUMENT, NcLink.ref == st.instrument,
                                              NcLink.lifted_at.is_(None), NcLink.note == "calibration overdue")).first()
    if known:
        return None
    nc = nonconformity.raise_nc(s, source=NcSource.CALIBRATION, description=(
        f"仪器 {st.instrument} 检定/校准已过期（应于 {st.calibration_due} 前完成）/ instrument {st.instrument}: "
        f"calibration due {st.calibration_due} is overdue"), raised_by=raised_by, risk=NcRisk.HIGH,
        source_ref=st.instrument, today=today)
    nonconformity.link(s, nc, NcLinkKind.INSTRUMENT, st.instrument, note="calibration overdue")
    return nc.id


class FitnessCache:
    """The hold text of one instrument for a runner that writes readings outside the ORM (the ASTM store),
    looked up in its own short session at most every ``ttl_s`` seconds."""

    def __init__(self, factory: sessionmaker[Session], instrument_id: int, *, ttl_s: float = 60.0) -> None:
        self.factory = factory
        self.instrument_id = instrument_id
        self.ttl_s = ttl_s
        self._at = -math.inf
        self._reason = ""

    def reason(self, at: dt.datetime | None = None) -> str:
        now = time.monotonic()
        if now - self._at >= self.ttl_s:
            with self.factory() as s:
                self._reason = hold_reason(s, self.instrument_id, at)
            self._at = now
        return self._reason


def _keep_certificate(data: bytes | None) -> str:
    """The certificate's SHA-256 (over the size limit refused), its file kept in the evidence folder."""
    digest = file_digest(data, "certificate")
    if data:
        audits.store_evidence(data)
    return digest


def attach_certificate(s: Session, check_id: int, data: bytes, name: str) -> InstrumentCheck:
    """Keep a check's certificate: its file in the evidence folder under its SHA-256, the hash and the file
    name on the check; over the size limit is refused."""
    row = s.get(InstrumentCheck, check_id)
    if row is None:
        raise NotFound(f"instrument check {check_id} does not exist", field="check_id")
    row.certificate_sha256 = _keep_certificate(data)
    row.certificate_name = name.strip()[:200]
    s.flush()
    return row


def certificate_file(s: Session, code: str, check_id: int, store_dir: Path | None = None) -> tuple[InstrumentCheck, bytes]:
    """A check of instrument ``code`` and its certificate's bytes, checked against the SHA-256 recorded with it
    on every read: none recorded → 404 ``certificate.no_file``; the file gone → 410 ``certificate.file_missing``;
    changed → 409 ``certificate.file_altered``."""
    inst = get_by_code(s, Instrument, code, field="instrument")
    row = s.get(InstrumentCheck, check_id)
    if row is None or row.instrument_id != inst.id:
        raise NotFound(f"instrument {code} has no check {check_id}", field="check_id")
    what = f"{code} check {check_id}"
    if not row.certificate_sha256:
        raise NotFound(f"{what} was recorded without a certificate file", field="check_id",
                       code="certificate.no_file")
    data = audits.stored_evidence(row.certificate_sha256, store_dir)
    if data is None:
        raise Gone(f"{what}: certificate {row.certificate_sha256} is missing from the evidence folder (recorded "
                   "before certificate files were kept, or removed)", field="check_id", code="certificate.file_missing")
    if not filestore.intact(data, row.certificate_sha256):
        raise Conflict(f"{what}: the stored certificate differs from the one recorded (SHA-256 changed); it is not "
                       "served", field="check_id", code="certificate.file_altered")
    return row, data


def held_summary(s: Session) -> list[dict[str, object]]:
    """Readings held for review, per instrument: how many, the newest reason, and the instrument's fitness
    (the review page's read model shows them next to its queues: held readings make no result)."""
    rows = s.execute(select(Instrument.id, Instrument.code, func.count(Reading.id), func.max(Reading.id))
                     .join(Reading, Reading.instrument_id == Instrument.id).where(Reading.review_hold != "")
                     .group_by(Instrument.id, Instrument.code).order_by(Instrument.code)).all()
    out: list[dict[str, object]] = []
    for inst_id, code, n, newest in rows:
        reading = s.get(Reading, newest)
        st = fitness(s, inst_id)
        out.append({"instrument": code, "held": int(n), "reason": reading.review_hold if reading else "",
                    "fitness": st.fitness, "fitness_label": Fitness(st.fitness).label("zh-CN")})
    return out
