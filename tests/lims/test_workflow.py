"""Status transitions (lims.workflow): for every record type, every move its table lists is allowed and
every other move between two of its statuses is refused with the stable code; spot checks pin the tables
to the lab's rules so that a table edited by mistake fails here."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from lims.db.models import (
    Analysis,
    Batch,
    OutboxMessage,
    RawCapture,
    Report,
    Result,
    Sample,
    SamplingAssignment,
)
from lims.db.models_pt import Nonconformity, PtRound
from lims.db.models_quality import Complaint, DocumentVersion, QualityAudit
from lims.services.errors import Conflict
from lims.workflow import (
    GUARDS,
    MACHINES,
    GuardRefused,
    IllegalTransition,
    Machine,
    can_transition,
    transition,
)

ORM = {cls.__name__: cls for cls in (Sample, Analysis, Result, Batch, Report, OutboxMessage, RawCapture,
                                     SamplingAssignment, PtRound, Nonconformity, QualityAudit, Complaint,
                                     DocumentVersion)}


#: What each record type carries so that every guard of lims.workflow.GUARDS holds.
READY: dict[str, dict[str, object]] = {
    "Result": {"analyst_id": 1, "reviewer_id": 2, "approver_id": 3},
    "Sample": {"received_at": dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC), "condition": "完好"},
    "Nonconformity": {"root_cause": "原因", "action": "措施", "verification": "有效",
                      "closed_at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
    "DocumentVersion": {"approved_by": "质量负责人", "approved_at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
    "Complaint": {"resolution": "已复测并答复"},
}


def _record(kind: str, status: str, **fields: object) -> object:
    record = ORM[kind](**{**READY.get(kind, {}), **fields})
    setattr(record, MACHINES[kind].attribute, status)
    return record


def _every_move() -> list[tuple[str, str, str]]:
    return [(kind, a.value, b.value) for kind, m in MACHINES.items()
            for a, b in itertools.permutations(list(m.states), 2)]


def test_every_record_type_with_a_status_has_a_machine():
    assert set(MACHINES) == set(ORM)


@pytest.mark.parametrize(("kind", "current", "target"), _every_move())
def test_each_move_is_allowed_exactly_when_its_table_lists_it(kind: str, current: str, target: str):
    machine: Machine = MACHINES[kind]
    record = _record(kind, current)
    legal = (current, target) in machine.pairs()
    assert can_transition(record, target) is legal
    if legal:
        transition(record, target)
        assert getattr(record, machine.attribute) == target
    else:
        with pytest.raises(IllegalTransition) as refused:
            transition(record, target)
        assert refused.value.code == "workflow.illegal_transition"
        assert isinstance(refused.value, Conflict) and refused.value.status_code == 409
        assert refused.value.field == machine.attribute
        assert getattr(record, machine.attribute) == current  # nothing changed


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_setting_the_same_status_is_a_no_op(kind: str):
    for state in MACHINES[kind].states:
        record = _record(kind, state.value)
        transition(record, state)
        assert getattr(record, MACHINES[kind].attribute) == state


@pytest.mark.parametrize(("kind", "current", "target"), [
    # results: certified content is frozen; only reporting and superseding move it (as the triggers do)
    ("Result", "certified", "reviewed"), ("Result", "certified", "rejected"), ("Result", "reported", "certified"),
    ("Result", "superseded", "certified"), ("Result", "to_be_reviewed", "certified"),
    ("Result", "rejected", "to_be_reviewed"),
    # samples never go back to registration, and only a registered sample is received
    ("Sample", "reported", "registered"), ("Sample", "in_analysis", "received"), ("Sample", "reported", "approved"),
    ("Sample", "approved", "reviewed"),
    ("Report", "superseded", "issued"),
    ("OutboxMessage", "delivered", "pending"), ("OutboxMessage", "delivered", "dead"),
    ("Batch", "qc_failed", "open"), ("Batch", "closed", "qc_passed"),
    ("PtRound", "published", "open"), ("PtRound", "draft", "scored"), ("PtRound", "open", "published"),
    ("Nonconformity", "open", "closed"), ("Nonconformity", "closed", "open"),
    ("RawCapture", "parsed", "pending"), ("RawCapture", "duplicate", "parsed"),
    ("SamplingAssignment", "sampled", "planned"),
    ("Analysis", "pending", "rejected"),
])
def test_moves_the_lab_forbids_are_refused(kind: str, current: str, target: str):
    with pytest.raises(IllegalTransition):
        transition(_record(kind, current), target)


@pytest.mark.parametrize(("kind", "current", "target"), [
    ("Result", "to_be_reviewed", "reviewed"), ("Result", "reviewed", "certified"), ("Result", "certified", "reported"),
    ("Result", "reported", "superseded"), ("Result", "reviewed", "rejected"),
    ("Sample", "registered", "received"), ("Sample", "received", "in_analysis"), ("Sample", "approved", "reported"),
    ("Sample", "reported", "in_analysis"),  # a confirmation or a correction after the first report
    ("Report", "issued", "superseded"), ("OutboxMessage", "dead", "pending"),
    ("Batch", "open", "qc_failed"), ("PtRound", "scored", "published"), ("Nonconformity", "verified", "closed"),
    ("RawCapture", "error", "parsed"), ("Analysis", "to_be_reviewed", "pending"),
])
def test_moves_the_services_make_are_allowed(kind: str, current: str, target: str):
    record = _record(kind, current)
    transition(record, target)
    assert getattr(record, MACHINES[kind].attribute) == target


def test_a_status_outside_the_record_types_vocabulary_is_a_programming_error():
    with pytest.raises(ValueError):
        transition(_record("Result", "reviewed"), "qc_passed")


def test_a_new_record_starts_in_its_first_status():
    result = Result(analyst_id=1, reviewer_id=2)
    transition(result, "reviewed")
    assert result.status == "reviewed"
    with pytest.raises(IllegalTransition, match=r"Result \(new\) is to_be_reviewed: it cannot become certified"):
        transition(Result(), "certified")


def test_an_illegal_move_reaches_a_client_as_409_with_its_code_and_chinese_text():
    from api.deps import service_error
    from api.ui import ERROR_ZH

    with pytest.raises(IllegalTransition) as refused:
        transition(_record("Report", "superseded"), "issued")
    answer = service_error(refused.value)
    assert answer.status_code == 409
    assert answer.detail == {"message": "Report (new) is superseded: it cannot become issued", "field": "status",
                             "code": "workflow.illegal_transition"}
    assert ERROR_ZH["workflow.illegal_transition"]


@pytest.mark.parametrize(("kind", "current", "target", "fields", "reason"), [
    ("Result", "to_be_reviewed", "reviewed", {"reviewer_id": None}, "no reviewer is recorded"),
    ("Result", "to_be_reviewed", "reviewed", {"reviewer_id": 1}, "the reviewer is the analyst"),
    ("Result", "reviewed", "certified", {"approver_id": None}, "no approver is recorded"),
    ("Result", "reviewed", "certified", {"approver_id": 1}, "the approver is the analyst or the reviewer"),
    ("Result", "reviewed", "certified", {"approver_id": 2}, "the approver is the analyst or the reviewer"),
    ("Sample", "registered", "received", {"received_at": None}, "the time of receipt and the condition"),
    ("Sample", "registered", "received", {"condition": " "}, "the time of receipt and the condition"),
    ("Nonconformity", "open", "root_cause", {"root_cause": ""}, "root_cause is not written"),
    ("Nonconformity", "root_cause", "action", {"action": " "}, "action is not written"),
    ("Nonconformity", "action", "verified", {"verification": ""}, "verification is not written"),
    ("Nonconformity", "verified", "closed", {"closed_at": None}, "closed_at is not recorded"),
    ("Nonconformity", "verified", "closed", {"verification": ""}, "effectiveness of the action is not verified"),
    ("DocumentVersion", "draft", "approved", {"approved_by": ""}, "no approver recorded"),
    ("Complaint", "investigating", "resolved", {"resolution": ""}, "resolution is not written"),
])
def test_a_guard_refuses_a_move_the_table_allows(kind: str, current: str, target: str, fields: dict[str, object],
                                                 reason: str):
    record = _record(kind, current, **fields)
    assert (current, target) in MACHINES[kind].pairs()
    assert not can_transition(record, target)
    with pytest.raises(GuardRefused, match=reason) as refused:
        transition(record, target)
    assert refused.value.code == "workflow.guard_refused" and refused.value.status_code == 409
    assert getattr(record, MACHINES[kind].attribute) == current


def test_every_guard_guards_a_move_its_table_allows():
    for kind, target in GUARDS:
        assert any(b == target for _, b in MACHINES[kind].pairs()), (kind, target)
