"""Which status may follow which, per record type, and the one function every status change goes through.

Each record type with a status has a *machine*: the attribute holding the status, its enum
(:mod:`lims.vocabulary`) and a table ``from status → the statuses it may move to``. A service never
assigns a status itself; it calls :func:`transition`, which refuses a move the table does not list with
:class:`IllegalTransition` (HTTP 409, stable code ``workflow.illegal_transition``), so no route can put a
record into a state its workflow does not allow. Setting the status a record already has is a no-op and
always allowed (issuing an amended report leaves its sample ``reported``).

The tables state what the lab's services do today (SENAITE guards its transitions the same way, one
guard per transition in ``bika/lims/workflow/*/guards.py``); the business checks that come *before* a
move — segregation of duties, authorship, batch QC, a rejection's reason — stay with the service that
knows them (:mod:`lims.services.signoff`, :mod:`lims.services.batches`, ...) and raise their own codes.

Pure: imports only the vocabulary and the service errors; the machine is chosen by the record's class
name, so the ORM is never imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
}


def machine_of(record: Any) -> Machine:
    """The machine of a record (by its class name); KeyError for a type without a workflow."""
    return MACHINES[type(record).__name__]


def can_transition(record: Any, target: str) -> bool:
    """Whether ``record`` may move to ``target`` now."""
    m = machine_of(record)
    return m.allows(str(getattr(record, m.attribute)), str(target))


def transition(record: Any, target: str) -> None:
    """Move ``record`` to ``target`` (a value of its machine's enum), or raise :class:`IllegalTransition`.

    The only way a service changes a record's status. A record not yet flushed has no status until its
    column default applies; it is treated as being in its machine's first status."""
    m = machine_of(record)
    name = type(record).__name__
    target_state = m.states(str(target))  # ValueError: not a status of this record type at all
    raw = getattr(record, m.attribute)
    current = str(raw) if raw is not None else next(iter(m.states)).value
    if not m.allows(current, target_state.value):
        ident = getattr(record, "code", None) or getattr(record, "id", None) or "(new)"
        raise IllegalTransition(name, str(ident), current, target_state.value, field=m.attribute)
    setattr(record, m.attribute, target_state.value)
