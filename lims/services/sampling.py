"""Monitoring tasks, the 双随机 sampling plan, sample registration with its sampling record, and the
chain of custody.

双随机 (random draw of the producers to inspect and of the inspectors who go): the draw uses a
seeded PRNG over the directory sorted by id, and the seed is recorded on the task, so the plan
can be reproduced and audited.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.db.models import (
    Analysis,
    Analyte,
    Commodity,
    CustodyEvent,
    Inspector,
    Lab,
    Method,
    MonitoringTask,
    Producer,
    Report,
    Sample,
    SampleStatus,
    SamplingAssignment,
)
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import code_exists, get_by_code, known_by_code
from lims.vocabulary import AssignmentStatus, CustodyKind, ProducerKind, ProgrammeType, SamplingLink
from lims.workflow import transition

# value → Chinese label (lims.vocabulary); a sample records its sampling link in Chinese
PROGRAMME_TYPES = ProgrammeType.labels()
SAMPLING_LINKS = SamplingLink.labels()
PRODUCER_KINDS = ProducerKind.labels()
CUSTODY_KINDS = tuple(k.value for k in CustodyKind)
#: The lab's time zone (Beijing time): the calendar of keep-until dates.
LAB_TZ = dt.timezone(dt.timedelta(hours=8), "CST")

# GB 32100-2015 统一社会信用代码: 18 characters from this alphabet, last one a check character.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_valid(code: str) -> bool:
    """Check character of a unified social credit code (GB 32100-2015 §4.2, modulus 31)."""
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def uscc_complete(first17: str) -> str:
    """Append the GB 32100-2015 check character to the first 17 characters of a credit code."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return first17 + _USCC_ALPHABET[(31 - total % 31) % 31]


def region_code_valid(code: str) -> bool:
    """A GB/T 2260 administrative division code: six digits, province part 11–82."""
    return len(code) == 6 and code.isdigit() and 11 <= int(code[:2]) <= 82


@dataclass(frozen=True)
class PlanLine:
    draw_order: int
    producer_id: int
    producer_name: str
    inspector_ids: tuple[int, ...]
    inspector_names: tuple[str, ...]


@dataclass(frozen=True)
class SamplingPlan:
    task_code: str
    seed: int
    lines: tuple[PlanLine, ...]


def create_task(s: Session, *, code: str, name: str, programme_type: str, issuing_authority: str,
                required_analytes: list[str], sampling_plan: str = "") -> MonitoringTask:
    if programme_type not in PROGRAMME_TYPES:
        raise InvalidInput(f"unknown programme type {programme_type!r}; one of {', '.join(PROGRAMME_TYPES)}",
                           field="programme_type")
    if code_exists(s, MonitoringTask, code):
        raise Conflict(f"task {code} already exists", field="code")
    for a in required_analytes:
        if not code_exists(s, Analyte, a):
            raise InvalidInput(f"unknown analyte code {a!r}", field="required_analytes")
    task = MonitoringTask(code=code, name=name, programme_type=programme_type, issuing_authority=issuing_authority,
                          required_analytes=list(required_analytes), sampling_plan=sampling_plan)
    s.add(task)
    s.flush()
    return task


def create_producer(s: Session, *, name: str, credit_code: str, kind: str, region_code: str,
                    address: str = "") -> Producer:
    if kind not in PRODUCER_KINDS:
        raise InvalidInput(f"unknown producer kind {kind!r}; one of {', '.join(PRODUCER_KINDS)}", field="kind")
    if credit_code and not uscc_valid(credit_code):
        raise InvalidInput(f"{credit_code!r} is not a valid unified social credit code (GB 32100-2015)",
                           field="credit_code", code="producer.credit_code_invalid")
    if not region_code_valid(region_code):
        raise InvalidInput(f"{region_code!r} is not a GB/T 2260 region code", field="region_code",
                           code="producer.region_invalid")
    p = Producer(name=name, credit_code=credit_code, kind=kind, region_code=region_code, address=address)
    s.add(p)
    s.flush()
    return p


def draw_sampling_plan(s: Session, task_code: str, *, producers: int, inspectors_per_visit: int = 2,
                       seed: int | None = None, region_prefix: str = "", kinds: tuple[str, ...] = (),
                       sampling_link: str = "before_harvest") -> SamplingPlan:
    """Draw producers and inspectors at random (双随机), reproducibly; the seed is recorded on the task."""
    task = get_by_code(s, MonitoringTask, task_code, field="task_code", what="task")
    if sampling_link not in SAMPLING_LINKS:
        raise InvalidInput(f"unknown sampling link {sampling_link!r}", field="sampling_link")
    if s.execute(select(SamplingAssignment.id).where(SamplingAssignment.task_id == task.id)).first():
        raise Conflict(f"task {task_code} already has a sampling plan (seed {task.random_seed})", field="task_code")
    q = select(Producer).order_by(Producer.id)
    if region_prefix:
        q = q.where(Producer.region_code.startswith(region_prefix))
    if kinds:
        q = q.where(Producer.kind.in_(kinds))
    directory = s.execute(q).scalars().all()
    staff = s.execute(select(Inspector).where(Inspector.active.is_(True)).order_by(Inspector.id)).scalars().all()
    if producers < 1 or producers > len(directory):
        raise InvalidInput(f"cannot draw {producers} producers from a directory of {len(directory)}",
                           field="producers")
    if inspectors_per_visit < 2 or inspectors_per_visit > len(staff):
        raise InvalidInput(f"each visit needs at least 2 inspectors; {len(staff)} available",
                           field="inspectors_per_visit")
    seed = secrets.randbits(31) if seed is None else seed
    rng = random.Random(seed)
    chosen = rng.sample(list(directory), producers)
    lines = []
    for order, producer in enumerate(chosen, start=1):
        team = rng.sample(list(staff), inspectors_per_visit)
        s.add(SamplingAssignment(task_id=task.id, producer_id=producer.id, inspector_ids=[i.id for i in team],
                                 sampling_link=sampling_link, draw_order=order))
        lines.append(PlanLine(order, producer.id, producer.name, tuple(i.id for i in team),
                              tuple(i.name for i in team)))
    task.random_seed = seed
    s.flush()
    return SamplingPlan(task.code, seed, tuple(lines))


@dataclass(frozen=True)
class RegisterSample:
    """A sample to register with its sampling record (抽样单); ``requested`` = ((analyte_code, method_code), …)."""

    code: str
    commodity_code: str
    sampled_at: dt.datetime
    sampling_place: str
    region_code: str
    sampling_link: str
    samplers: Sequence[str]
    task_code: str = ""
    producer_id: int | None = None
    assignment_id: int | None = None
    certificate_no: str = ""
    trace_code: str = ""
    description: str = ""
    quantity: str = ""
    requested: Sequence[tuple[str, str]] = ()


def register_sample(s: Session, cmd: RegisterSample) -> Sample:
    """Register a sample with its sampling record and the analyses requested on it."""
    commodity = _check_sampling_record(s, cmd)
    assignment = _planned_assignment(s, cmd.assignment_id)
    producer_id = assignment.producer_id if assignment is not None else cmd.producer_id
    if producer_id is not None and s.get(Producer, producer_id) is None:
        raise NotFound(f"producer {producer_id} does not exist", field="producer_id")
    if cmd.task_code:
        get_by_code(s, MonitoringTask, cmd.task_code, field="task_code", what="task")
    lab = s.execute(select(Lab).order_by(Lab.id)).scalars().first()
    if lab is None:
        raise Conflict("no laboratory is configured")
    sample = Sample(code=cmd.code, lab_id=lab.id, commodity_id=commodity.id, producer_id=producer_id,
                    task_code=cmd.task_code, sampled_at=cmd.sampled_at, sampling_place=cmd.sampling_place,
                    region_code=cmd.region_code, sampling_link=SAMPLING_LINKS[cmd.sampling_link],
                    certificate_no=cmd.certificate_no, trace_code=cmd.trace_code, samplers="、".join(cmd.samplers),
                    description=cmd.description or commodity.name_zh, quantity=cmd.quantity,
                    status=SampleStatus.REGISTERED)
    s.add(sample)
    s.flush()
    if assignment is not None:
        transition(assignment, AssignmentStatus.SAMPLED)
        assignment.sample_id = sample.id
    for analyte_code, method_code in cmd.requested:
        analyte = known_by_code(s, Analyte, analyte_code, field="requested", what="analyte code")
        method = known_by_code(s, Method, method_code, field="requested", what="method code")
        s.add(Analysis(sample_id=sample.id, method_id=method.id, analyte_id=analyte.id, kind=method.kind,
                       status="pending"))
    s.flush()
    return sample


def _check_sampling_record(s: Session, cmd: RegisterSample) -> Commodity:
    """The sampling record's own checks (code free, commodity known, region, link, two samplers, aware
    time); the commodity named."""
    if code_exists(s, Sample, cmd.code):
        raise Conflict(f"sample {cmd.code} already exists", field="code", code="sample.exists")
    commodity = known_by_code(s, Commodity, cmd.commodity_code, field="commodity_code", what="commodity code")
    if not region_code_valid(cmd.region_code):
        raise InvalidInput(f"{cmd.region_code!r} is not a GB/T 2260 region code", field="region_code",
                           code="sample.region_invalid")
    if cmd.sampling_link not in SAMPLING_LINKS:
        raise InvalidInput(f"unknown sampling link {cmd.sampling_link!r}; one of {', '.join(SAMPLING_LINKS)}",
                           field="sampling_link")
    if len([x for x in cmd.samplers if x.strip()]) < 2:
        raise InvalidInput("at least two samplers must sign the sampling record", field="samplers",
                           code="sample.samplers_required")
    if cmd.sampled_at.tzinfo is None:
        raise InvalidInput("sampled_at must carry a timezone", field="sampled_at")
    return commodity


def _planned_assignment(s: Session, assignment_id: int | None) -> SamplingAssignment | None:
    """The 双随机 plan line the sample fulfils (still planned), or None."""
    if assignment_id is None:
        return None
    assignment = s.get(SamplingAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"sampling assignment {assignment_id} does not exist", field="assignment_id")
    if assignment.status != "planned":
        raise Conflict(f"sampling assignment {assignment_id} is {assignment.status}", field="assignment_id",
                       code="sample.assignment_not_planned")
    return assignment


#: A temperature on receipt outside this range (°C) is a typing error, not a reading.
RECEIPT_TEMPERATURE_C = (-80.0, 60.0)


def receive_sample(s: Session, code: str, *, actor: str, condition: str, storage: str,
                   at: dt.datetime | None = None, temperature_c: float | None = None) -> Sample:
    """样品接收: the condition on receipt (and the temperature measured, °C, when the sample travelled chilled
    or frozen — NY/T 789-2004 §5), the storage place; the sample becomes ``received``."""
    sample = get_by_code(s, Sample, code)
    if sample.status != SampleStatus.REGISTERED:
        raise Conflict(f"sample {code} is {sample.status}, not registered", field="code",
                       code="sample.not_registered")
    if not condition.strip():
        raise InvalidInput("the condition on receipt must be recorded", field="condition",
                           code="sample.condition_required")
    low, high = RECEIPT_TEMPERATURE_C
    if temperature_c is not None and not low <= temperature_c <= high:
        raise InvalidInput(f"temperature on receipt {temperature_c} °C is outside {low:g}…{high:g} °C",
                           field="temperature_c", code="sample.temperature_invalid")
    sample.received_at = at or utcnow()
    sample.condition = condition
    transition(sample, SampleStatus.RECEIVED)
    s.add(CustodyEvent(sample_id=sample.id, kind="received", actor=actor, condition=condition, location=storage,
                       at=sample.received_at, temperature_c=temperature_c))
    s.flush()
    return sample


#: Fields of a registered sample an audited correction may change (what its reports print about it).
CORRECTABLE = ("sampling_place", "description", "quantity", "certificate_no", "trace_code", "condition")


def correct_sample(s: Session, code: str, changes: dict[str, str], *, amending: bool = False) -> bool:
    """Correct printed fields of a sample (the audit trail keeps old → new with the caller's reason); True when
    the sample has a report. Once it has one, the correction is refused (``sample.reported``) unless the caller
    amends the report in the same unit of work (``amending``): the report in the customer's hands is never
    silently contradicted."""
    sample = get_by_code(s, Sample, code, field="sample_code")
    reported = s.execute(select(Report.id).where(Report.sample_id == sample.id).limit(1)).first() is not None
    if reported and not amending:
        raise Conflict(f"sample {code} already has a report: correct it with an amended report "
                       "(amend_report: true)", field="sample_code", code="sample.reported")
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown or not changes:
        raise InvalidInput(f"correctable fields: {', '.join(CORRECTABLE)}", field=unknown[0] if unknown else "body")
    for name, value in changes.items():
        setattr(sample, name, value)
    s.flush()
    return reported


def custody(s: Session, code: str, *, kind: str, actor: str, location: str = "", note: str = "",
            sub_sample_code: str = "", keep_until: dt.date | None = None) -> CustodyEvent:
    """A chain-of-custody event (样品流转): a sub-sample with its own code, a retained sample (留样) with its
    place and keep-until date, a disposal (处置: the last event; before the keep-until date of a retained
    portion only with the reason in ``note``)."""
    if kind not in CUSTODY_KINDS:
        raise InvalidInput(f"unknown custody event {kind!r}; one of {', '.join(CUSTODY_KINDS)}", field="kind")
    sample = get_by_code(s, Sample, code)
    events = s.execute(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)).scalars().all()
    if any(e.kind == "disposed" for e in events):
        raise Conflict(f"sample {code} was disposed of; no further custody events", field="kind",
                       code="sample.disposed")
    if kind == "subsampled":
        _check_sub_sample(code, sub_sample_code, events)
    _check_retention(kind, keep_until, note, events)
    ev = CustodyEvent(sample_id=sample.id, kind=kind, actor=actor, location=location, note=note,
                      sub_sample_code=sub_sample_code, keep_until=keep_until if kind == "retained" else None)
    s.add(ev)
    s.flush()
    return ev


def _check_sub_sample(code: str, sub_sample_code: str, events: Sequence[CustodyEvent]) -> None:
    if not sub_sample_code:
        raise InvalidInput("a sub-sample needs its own code", field="sub_sample_code",
                           code="sample.sub_sample_code_required")
    if sub_sample_code == code or any(e.sub_sample_code == sub_sample_code for e in events):
        raise Conflict(f"sub-sample code {sub_sample_code} is already used for sample {code}",
                       field="sub_sample_code", code="sample.sub_sample_exists")


def _check_retention(kind: str, keep_until: dt.date | None, note: str, events: Sequence[CustodyEvent]) -> None:
    """留样: the keep-until date not in the past; 处置 before a retained portion's keep-until date needs a reason."""
    today = as_utc(utcnow()).astimezone(LAB_TZ).date()  # dates on the retention label are the lab's
    if kind == "retained" and keep_until is not None and keep_until < today:
        raise InvalidInput(f"keep-until date {keep_until} is in the past", field="keep_until",
                           code="sample.keep_until_past")
    kept = [e.keep_until for e in events if e.kind == "retained" and e.keep_until is not None]
    if kind == "disposed" and kept and max(kept) > today and not note.strip():
        raise InvalidInput(f"the retained sample is to be kept until {max(kept)}: give the reason for disposing "
                           "of it earlier", field="note", code="sample.retention_not_expired")


def producer_history(s: Session, producer_id: int) -> list[dict[str, object]]:
    """Every sample of a producer with its current results and verdicts (for credit records)."""
    from lims.db.models import Result

    if s.get(Producer, producer_id) is None:
        raise NotFound(f"producer {producer_id} does not exist", field="producer_id")
    out = []
    for sample in s.execute(select(Sample).where(Sample.producer_id == producer_id).order_by(Sample.id)).scalars():
        results = s.execute(select(Result).join(Analysis).where(
            Analysis.sample_id == sample.id, Result.status.not_in(("superseded", "rejected")))).scalars().all()
        out.append({"sample": sample.code, "commodity": sample.commodity.name_zh, "task": sample.task_code,
                    "sampled_at": sample.sampled_at.isoformat() if sample.sampled_at else None,
                    "results": [{"analyte": r.analysis.analyte.name_zh, "value_text": r.value_text,
                                 "verdict": r.verdict, "status": r.status} for r in results]})
    return out
