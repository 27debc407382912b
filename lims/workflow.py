"""Which status may follow which, per record type, and the one function every status change goes through.

Each record type with a status has a *machine*: the attribute holding the status, its enum
(:mod:`lims.vocabulary`) and a table ``from status → the statuses it may move to``. A service does not
assign a status itself; it calls :func:`transition`, which refuses a move the table does not list with
:class:`IllegalTransition` (HTTP 409, stable code ``workflow.illegal_transition``), so no route can put a
record into a state its workflow does not allow. Setting the status a record already has is a no-op and
always allowed (issuing an amended report leaves its sample ``reported``).

The tables state what the lab's services do today. A move may also have a *guard* (:data:`GUARDS`, one
function per transition, as SENAITE's ``bika/lims/workflow/*/guards.py``): a check of the record itself
that must hold for the move, e.g. a result is reviewed only with a reviewer who is not its analyst, a
nonconformity steps forward only with its note written. A failed guard raises :class:`GuardRefused`
(409, ``workflow.guard_refused``). The services check the same rules earlier, with their own codes and
the context a guard cannot see (passwords, roles, signatory authority, batch QC); the guards make sure
that no other path can skip them.

Not yet moved here: the parse status of raw captures is still set directly by the acquisition code
(``lims/acquisition``, bulk inserts included); the ``RawCapture`` table states the moves it makes.

Pure: imports only the vocabulary and the service errors; the machine is chosen by the record's class
name, so the ORM is never imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lims.quality.vocabulary import AuditStatus, ComplaintStatus, DocumentStatus
from lims.services.errors import Conflict
from lims.vocabulary import (
    AnalysisStatus,
    AssignmentStatus,
    BatchStatus,
    Labelled,
    NonconformityStatus,
    OutboxStatus,
    ParseStatus,
    ReportStatus,
    ResultStatus,
    RoundStatus,
    SampleStatus,
)


class IllegalTransition(Conflict):
    """A status change the record type's workflow does not allow."""

    default_code = "workflow.illegal_transition"

    def __init__(self, record_type: str, record: str, current: str, target: str, *, field: str) -> None:
        super().__init__(f"{record_type} {record} is {current}: it cannot become {target}", field=field)
        self.record_type, self.current, self.target = record_type, current, target


class GuardRefused(IllegalTransition):
    """A move the table allows, refused because the record does not meet the move's guard."""

    default_code = "workflow.guard_refused"

    def __init__(self, record_type: str, record: str, current: str, target: str, *, field: str,
                 reason: str) -> None:
        super().__init__(record_type, record, current, target, field=field)
        self.args = (f"{record_type} {record} cannot go from {current} to {target}: {reason}",)
        self.reason = reason


@dataclass(frozen=True)
class Machine:
    """A record type's statuses and the moves allowed between them."""

    attribute: str
    states: type[Labelled]
    moves: Mapping[str, frozenset[str]]

    def allows(self, current: str, target: str) -> bool:
        return current == target or target in self.moves.get(current, frozenset())

    def pairs(self) -> set[tuple[str, str]]:
        """Every (from, to) pair of distinct statuses this machine allows."""
        return {(a, b) for a, targets in self.moves.items() for b in targets if a != b}


def _table(*rows: tuple[Labelled, tuple[Labelled, ...]]) -> dict[str, frozenset[str]]:
    return {str(a): frozenset(str(b) for b in targets) for a, targets in rows}


S, A, R = SampleStatus, AnalysisStatus, ResultStatus

#: After results exist, new work (a re-test, a confirmation requested by a positive screen, a correction)
#: takes a sample back to analysis or review; a rejection sends it back; a report may be issued as soon as
#: one result is certified. A sample moves forward when all its current results reached the stage.
_SAMPLE_WITH_RESULTS = (S.IN_ANALYSIS, S.TO_BE_REVIEWED, S.REPORTED, S.RETEST, S.REJECTED)

MACHINES: dict[str, Machine] = {
    "Sample": Machine("status", SampleStatus, _table(
        (S.REGISTERED, (S.RECEIVED, S.IN_ANALYSIS, S.TO_BE_REVIEWED, S.REVIEWED, S.APPROVED)),
        (S.RECEIVED, (S.IN_ANALYSIS, S.TO_BE_REVIEWED, S.REVIEWED, S.APPROVED)),
        (S.IN_ANALYSIS, (*_SAMPLE_WITH_RESULTS, S.REVIEWED, S.APPROVED)),
        (S.TO_BE_REVIEWED, (*_SAMPLE_WITH_RESULTS, S.REVIEWED, S.APPROVED)),
        (S.REVIEWED, (*_SAMPLE_WITH_RESULTS, S.APPROVED)),
        (S.APPROVED, _SAMPLE_WITH_RESULTS),
        (S.REPORTED, _SAMPLE_WITH_RESULTS),
        (S.RETEST, _SAMPLE_WITH_RESULTS),
        (S.REJECTED, _SAMPLE_WITH_RESULTS),
    )),
    "Analysis": Machine("status", AnalysisStatus, _table(
        (A.PENDING, (A.IN_ANALYSIS, A.TO_BE_REVIEWED)),
        (A.IN_ANALYSIS, (A.TO_BE_REVIEWED, A.PENDING, A.REJECTED)),
        (A.TO_BE_REVIEWED, (A.IN_ANALYSIS, A.PENDING, A.REJECTED)),
        (A.REJECTED, (A.IN_ANALYSIS, A.TO_BE_REVIEWED)),
    )),
    "Result": Machine("status", ResultStatus, _table(
        (R.TO_BE_REVIEWED, (R.REVIEWED, R.REJECTED)),
        (R.REVIEWED, (R.CERTIFIED, R.REJECTED)),
        (R.CERTIFIED, (R.REPORTED, R.SUPERSEDED)),  # the database triggers allow exactly these two
        (R.REPORTED, (R.SUPERSEDED,)),
    )),
    "Batch": Machine("status", BatchStatus, _table(
        (BatchStatus.OPEN, (BatchStatus.QC_PASSED, BatchStatus.QC_FAILED)),
        (BatchStatus.QC_PASSED, (BatchStatus.QC_FAILED, BatchStatus.CLOSED)),  # QC re-evaluated
        (BatchStatus.QC_FAILED, (BatchStatus.QC_PASSED, BatchStatus.CLOSED)),
    )),
    "Report": Machine("status", ReportStatus, _table((ReportStatus.ISSUED, (ReportStatus.SUPERSEDED,)))),
    "OutboxMessage": Machine("status", OutboxStatus, _table(
        (OutboxStatus.PENDING, (OutboxStatus.DELIVERED, OutboxStatus.DEAD)),
        (OutboxStatus.DEAD, (OutboxStatus.PENDING,)),  # a person re-queues it
    )),
    "RawCapture": Machine("parse_status", ParseStatus, _table(
        (ParseStatus.PENDING, (ParseStatus.PARSED, ParseStatus.ERROR, ParseStatus.INCOMPLETE,
                               ParseStatus.DUPLICATE, ParseStatus.REJECTED)),
        (ParseStatus.PARSED, (ParseStatus.DUPLICATE,)),  # a late resend recognised after parsing
        (ParseStatus.ERROR, (ParseStatus.PARSED, ParseStatus.DUPLICATE)),  # re-parsed with a fixed profile
        (ParseStatus.INCOMPLETE, (ParseStatus.PARSED, ParseStatus.ERROR, ParseStatus.DUPLICATE)),
    )),
    "SamplingAssignment": Machine("status", AssignmentStatus, _table(
        (AssignmentStatus.PLANNED, (AssignmentStatus.SAMPLED, AssignmentStatus.CANCELLED)),
    )),
    "PtRound": Machine("status", RoundStatus, _table(
        (RoundStatus.DRAFT, (RoundStatus.OPEN,)),
        (RoundStatus.OPEN, (RoundStatus.CLOSED,)),
        (RoundStatus.CLOSED, (RoundStatus.SCORED,)),
        (RoundStatus.SCORED, (RoundStatus.PUBLISHED,)),
    )),
    "Nonconformity": Machine("status", NonconformityStatus, _table(
        (NonconformityStatus.OPEN, (NonconformityStatus.ROOT_CAUSE,)),
        (NonconformityStatus.ROOT_CAUSE, (NonconformityStatus.ACTION,)),
        (NonconformityStatus.ACTION, (NonconformityStatus.VERIFIED,)),
        (NonconformityStatus.VERIFIED, (NonconformityStatus.CLOSED,)),
    )),
    "QualityAudit": Machine("status", AuditStatus, _table(  # issue 15 (lims.quality.audits)
        (AuditStatus.PLANNED, (AuditStatus.IN_PROGRESS,)),
        (AuditStatus.IN_PROGRESS, (AuditStatus.COMPLETED,)),
    )),
    "Complaint": Machine("status", ComplaintStatus, _table(  # 17025 7.9 (lims.quality.complaints)
        (ComplaintStatus.RECEIVED, (ComplaintStatus.INVESTIGATING, ComplaintStatus.RESOLVED)),
        (ComplaintStatus.INVESTIGATING, (ComplaintStatus.RESOLVED,)),
        (ComplaintStatus.RESOLVED, (ComplaintStatus.CLOSED,)),
    )),
    "DocumentVersion": Machine("status", DocumentStatus, _table(  # 17025 8.3 (lims.quality.documents)
        (DocumentStatus.DRAFT, (DocumentStatus.APPROVED,)),
        (DocumentStatus.APPROVED, (DocumentStatus.OBSOLETE,)),
    )),
}


#: Why a record may not make a move (None: it may). One guard per (record type, target status).
Guard = Callable[[Any], str | None]


def _reviewer_independent(result: Any) -> str | None:
    if result.reviewer_id is None:
        return "no reviewer is recorded"
    if result.reviewer_id == result.analyst_id:
        return "the reviewer is the analyst"
    return None


def _approver_independent(result: Any) -> str | None:
    if result.approver_id is None:
        return "no approver is recorded"
    if result.approver_id in (result.analyst_id, result.reviewer_id):
        return "the approver is the analyst or the reviewer"
    return None


def _receipt_recorded(sample: Any) -> str | None:
    if sample.received_at is None or not (sample.condition or "").strip():
        return "the time of receipt and the condition on receipt are not recorded"
    return None


def _written(attribute: str) -> Guard:
    def guard(record: Any) -> str | None:
        return None if (getattr(record, attribute) or "").strip() else f"{attribute} is not written"
    return guard


def _closed_at(record: Any) -> str | None:
    if not (record.verification or "").strip():  # 8.7.1 e): effectiveness verified before closing
        return "the effectiveness of the action is not verified"
    return None if record.closed_at is not None else "closed_at is not recorded"


def _approved(record: Any) -> str | None:
    return None if (record.approved_by or "").strip() and record.approved_at is not None else "no approver recorded"


def _resolved(record: Any) -> str | None:
    return None if (record.resolution or "").strip() else "the resolution is not written"


GUARDS: dict[tuple[str, str], Guard] = {
    ("Result", ResultStatus.REVIEWED): _reviewer_independent,  # 21 CFR 11.10(g); ISO/IEC 17025 7.8.1.1
    ("Result", ResultStatus.CERTIFIED): _approver_independent,
    ("Sample", SampleStatus.RECEIVED): _receipt_recorded,  # ISO/IEC 17025 7.4.2
    ("Nonconformity", NonconformityStatus.ROOT_CAUSE): _written("root_cause"),  # 8.7.1 c)
    ("Nonconformity", NonconformityStatus.ACTION): _written("action"),  # 8.7.1 d)
    ("Nonconformity", NonconformityStatus.VERIFIED): _written("verification"),  # 8.7.1 e)
    ("Nonconformity", NonconformityStatus.CLOSED): _closed_at,
    ("DocumentVersion", DocumentStatus.APPROVED): _approved,  # 8.3.2 a)
    ("Complaint", ComplaintStatus.RESOLVED): _resolved,  # 7.9.6
}


def machine_of(record: Any) -> Machine:
    """The machine of a record (by its class name); KeyError for a type without a workflow."""
    return MACHINES[type(record).__name__]


def can_transition(record: Any, target: str) -> bool:
    """Whether ``record`` may move to ``target`` now (its table and the move's guard)."""
    try:
        _checked(record, target)
    except IllegalTransition:
        return False
    return True


def transition(record: Any, target: str) -> None:
    """Move ``record`` to ``target`` (a value of its machine's enum), or raise :class:`IllegalTransition`
    (:class:`GuardRefused` when the table allows the move but its guard does not).

    The only way a service changes a record's status. A record not yet flushed has no status until its
    column default applies; it is treated as being in its machine's first status."""
    attribute, value = _checked(record, target)
    setattr(record, attribute, value)


def _checked(record: Any, target: str) -> tuple[str, str]:
    """(status attribute, target value) once the move is known to be allowed; raises otherwise."""
    m = machine_of(record)
    name = type(record).__name__
    target_state = m.states(str(target))  # ValueError: not a status of this record type at all
    raw = getattr(record, m.attribute)
    current = str(raw) if raw is not None else next(iter(m.states)).value
    ident = str(getattr(record, "code", None) or getattr(record, "id", None) or "(new)")
    if not m.allows(current, target_state.value):
        raise IllegalTransition(name, ident, current, target_state.value, field=m.attribute)
    guard = GUARDS.get((name, target_state.value))
    reason = guard(record) if guard is not None and current != target_state.value else None
    if reason is not None:
        raise GuardRefused(name, ident, current, target_state.value, field=m.attribute, reason=reason)
    return m.attribute, target_state.value
