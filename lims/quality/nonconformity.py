"""Nonconforming work (ISO/IEC 17025:2017 7.10) and corrective action (8.7).

A nonconformity is raised by hand or from an audit finding, a failed QC run, an unsatisfactory PT score
(lims.pt.participant) or a complaint; it is graded by risk, which decides the containment: stop work on a
method or instrument, withhold reports, or recall issued reports (the recall issues the amended report
through the report workflow, :func:`lims.services.reporting.issue_report`). Then root cause → actions with
owners and due dates, all done → action → effectiveness verified → closed (lims.workflow guards each
step; 8.7.1 c–e). Overdue nonconformities and actions are listed by :func:`overdue`. Every change is a
row change, so the audit trail (lims.db.audit) records each step with its actor.

Services take a Session and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models import Report, Sample
from lims.db.models_pt import Nonconformity
from lims.db.models_quality import CapaAction, NcLink
from lims.quality.vocabulary import Containment, NcLinkKind, NcRisk, NcSource
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.vocabulary import Labelled, NonconformityStatus, ReportStatus
from lims.workflow import transition

DEFAULT_DUE_DAYS = {NcRisk.HIGH: 7, NcRisk.MEDIUM: 30, NcRisk.LOW: 60}
#: Containment that may apply to each kind of linked record.
CONTAINMENT_FOR = {
    Containment.STOP_WORK: {NcLinkKind.METHOD, NcLinkKind.INSTRUMENT},
    Containment.WITHHOLD: {NcLinkKind.REPORT, NcLinkKind.RESULT, NcLinkKind.BATCH},
    Containment.RECALL: {NcLinkKind.REPORT},
    Containment.NOTE: set(NcLinkKind),
}


def _choice(enum: type[Labelled], value: str, field: str) -> str:
    try:
        return enum(value).value
    except ValueError:
        raise InvalidInput(f"{field} must be one of {', '.join(m.value for m in enum)} (got {value!r})",
                           field=field, code="quality.unknown_value") from None


def _text(value: str, field: str) -> str:
    if not value or not value.strip():
        raise InvalidInput(f"{field} is missing", field=field, code="quality.missing_text")
    return value.strip()


def get_nc(s: Session, nc_id: int) -> Nonconformity:
    nc = s.get(Nonconformity, nc_id)
    if nc is None:
        raise NotFound(f"nonconformity {nc_id} not found", field="nonconformity_id")
    return nc


def raise_nc(s: Session, *, source: str, description: str, raised_by: str, risk: str = NcRisk.MEDIUM,
             owner: str = "", source_ref: str = "", due_date: dt.date | None = None,
             links: Sequence[tuple[str, str]] = (), today: dt.date | None = None) -> Nonconformity:
    """Open a nonconformity; ``links`` are (NcLinkKind, record code) pairs it affects or came from."""
    today = today or utcnow().date()
    risk = _choice(NcRisk, risk, "risk")
    if due_date is not None and due_date < today:
        raise InvalidInput(f"due date {due_date} is before the date raised {today}", field="due_date",
                           code="quality.dates_out_of_order")
    nc = Nonconformity(source=_choice(NcSource, source, "source"), source_ref=source_ref.strip(),
                       description=_text(description, "description"), risk=risk, raised_by=_text(raised_by, "raised_by"),
                       owner=owner.strip(), status=NonconformityStatus.OPEN,
                       due_date=due_date or today + dt.timedelta(days=DEFAULT_DUE_DAYS[NcRisk(risk)]))
    s.add(nc)
    s.flush()
    for kind, ref in links:
        link(s, nc, kind, ref)
    return nc


def link(s: Session, nc: Nonconformity, kind: str, ref: str, *, containment: str = Containment.NOTE,
         note: str = "") -> NcLink:
    row = NcLink(nonconformity_id=nc.id, kind=_choice(NcLinkKind, kind, "kind"), ref=_text(ref, "ref"),
                 containment=_choice(Containment, containment, "containment"), note=note.strip())
    s.add(row)
    s.flush()
    return row


def contain(s: Session, nc_id: int, *, containment: str, kind: str, ref: str, note: str,
            report_dir: Path | None = None) -> NcLink:
    """Apply containment to one record (7.10.1 a–b). A recall of an issued report issues its amendment
    (new version naming the nonconformity) and links the amended report as well."""
    nc = get_nc(s, nc_id)
    if nc.status == NonconformityStatus.CLOSED:
        raise Conflict(f"nonconformity {nc_id} is closed", field="status", code="quality.nc_closed")
    containment = _choice(Containment, containment, "containment")
    kind = _choice(NcLinkKind, kind, "kind")
    if kind not in CONTAINMENT_FOR[Containment(containment)]:
        raise InvalidInput(f"{containment} does not apply to a {kind}", field="kind",
                           code="quality.containment_mismatch")
    note = _text(note, "note")
    row = link(s, nc, kind, ref, containment=containment, note=note)
    if containment == Containment.RECALL:
        amended = _recall(s, nc, ref, note, report_dir)
        link(s, nc, NcLinkKind.REPORT, amended.report_no, note=f"召回后更正报告 / amended after recall of {ref}")
    nc.containment = "\n".join(x for x in (nc.containment, f"{containment} {kind} {ref}: {note}") if x)
    return row


def _recall(s: Session, nc: Nonconformity, report_no: str, note: str, report_dir: Path | None) -> Report:
    # the report workflow (PDF rendering) only when recalling
    from lims.services.reporting import issue_report

    report = s.execute(select(Report).where(Report.report_no == report_no.strip(),
                                            Report.status == ReportStatus.ISSUED)).scalars().first()
    if report is None:
        raise NotFound(f"no issued report {report_no}", field="ref", code="quality.report_not_issued")
    sample = s.get(Sample, report.sample_id)
    assert sample is not None
    out_dir = report_dir or Path(report.path).parent
    return issue_report(s, sample.code, out_dir=out_dir, language="en" if report.lang == "en" else "zh-CN",
                        amendment_reason=f"召回 / recall (不符合 NC-{nc.id}): {note}")


def record_root_cause(s: Session, nc_id: int, root_cause: str) -> Nonconformity:
    """Risk-graded: a high-risk nonconformity goes on to cause analysis only once its containment is recorded
    (7.10.1 a–b; "note" with no affected work is a containment decision too)."""
    nc = get_nc(s, nc_id)
    if nc.risk == NcRisk.HIGH and not (nc.containment or "").strip():
        raise Conflict(f"nonconformity {nc_id} is high risk: record its containment first", field="containment",
                       code="quality.containment_required")
    nc.root_cause = _text(root_cause, "root_cause")
    transition(nc, NonconformityStatus.ROOT_CAUSE)
    return nc


def add_action(s: Session, nc_id: int, *, description: str, owner: str, due_date: dt.date,
               today: dt.date | None = None) -> CapaAction:
    nc = get_nc(s, nc_id)
    if nc.status in (NonconformityStatus.VERIFIED, NonconformityStatus.CLOSED):
        raise Conflict(f"nonconformity {nc_id} is {nc.status}: no new actions", field="status",
                       code="quality.nc_closed")
    raised = nc.opened_at.date() if nc.opened_at else (today or utcnow().date())
    if due_date < raised:
        raise InvalidInput(f"due date {due_date} is before the nonconformity was raised ({raised})",
                           field="due_date", code="quality.dates_out_of_order")
    action = CapaAction(nonconformity_id=nc.id, description=_text(description, "description"),
                        owner=_text(owner, "owner"), due_date=due_date)
    s.add(action)
    s.flush()
    return action


def complete_action(s: Session, action_id: int, *, note: str, now: dt.datetime | None = None) -> CapaAction:
    action = s.get(CapaAction, action_id)
    if action is None:
        raise NotFound(f"action {action_id} not found", field="action_id")
    if action.done_at is not None:
        raise Conflict(f"action {action_id} is already done", field="action_id", code="quality.action_done")
    action.done_note = _text(note, "note")
    action.done_at = now or utcnow()
    return action


def actions_of(s: Session, nc_id: int) -> list[CapaAction]:
    return list(s.execute(select(CapaAction).where(CapaAction.nonconformity_id == nc_id)
                          .order_by(CapaAction.id)).scalars())


def links_of(s: Session, nc_id: int) -> list[NcLink]:
    return list(s.execute(select(NcLink).where(NcLink.nonconformity_id == nc_id).order_by(NcLink.id)).scalars())


def implement(s: Session, nc_id: int) -> Nonconformity:
    """root_cause → action once the NC has actions and every one is done (8.7.1 d)."""
    nc = get_nc(s, nc_id)
    actions = actions_of(s, nc_id)
    if not actions:
        raise Conflict(f"nonconformity {nc_id} has no corrective action", field="actions",
                       code="quality.no_actions")
    _all_done(actions, nc_id)
    nc.action = "\n".join(f"{a.description}（{a.owner}）: {a.done_note}" for a in actions)
    transition(nc, NonconformityStatus.ACTION)
    return nc


def _all_done(actions: Sequence[CapaAction], nc_id: int) -> None:
    open_ = [a.id for a in actions if a.done_at is None]
    if open_:
        raise Conflict(f"nonconformity {nc_id} has actions not done: {', '.join(map(str, open_))}",
                       field="actions", code="quality.actions_open")


def verify_effectiveness(s: Session, nc_id: int, *, verification: str, effective: bool = True) -> Nonconformity:
    """Record the effectiveness check (8.7.1 e). Not effective: the NC goes back to root cause analysis
    is not a move the workflow has, so it stays at ``action`` and needs new actions — refused here."""
    nc = get_nc(s, nc_id)
    _all_done(actions_of(s, nc_id), nc_id)
    if not effective:
        raise Conflict(f"nonconformity {nc_id}: the actions were not effective; add and complete new actions",
                       field="effective", code="quality.not_effective")
    nc.verification = _text(verification, "verification")
    transition(nc, NonconformityStatus.VERIFIED)
    return nc


def close(s: Session, nc_id: int, *, note: str = "", now: dt.datetime | None = None) -> Nonconformity:
    """verified → closed; lifts the NC's stop-work and withhold containment."""
    nc = get_nc(s, nc_id)
    now = now or utcnow()
    if nc.status == NonconformityStatus.VERIFIED:
        nc.closed_at = now
        if note.strip():
            nc.verification = f"{nc.verification}\n关闭 / closed: {note.strip()}"
    transition(nc, NonconformityStatus.CLOSED)
    for row in links_of(s, nc_id):
        if row.containment in (Containment.STOP_WORK, Containment.WITHHOLD) and row.lifted_at is None:
            row.lifted_at = now
    return nc


def active_containment(s: Session, kind: str, ref: str) -> list[NcLink]:
    """Stop-work and withhold links still in force on a record (its NC not closed)."""
    q = (select(NcLink).join(Nonconformity, Nonconformity.id == NcLink.nonconformity_id)
         .where(NcLink.kind == kind, NcLink.ref == ref, NcLink.lifted_at.is_(None),
                NcLink.containment.in_([Containment.STOP_WORK.value, Containment.WITHHOLD.value]),
                Nonconformity.status != NonconformityStatus.CLOSED.value))
    return list(s.execute(q).scalars())


def list_ncs(s: Session, *, status: str | None = None, source: str | None = None) -> list[Nonconformity]:
    q = select(Nonconformity).order_by(Nonconformity.id)
    if status:
        q = q.where(Nonconformity.status == _choice(NonconformityStatus, status, "status"))
    if source:
        q = q.where(Nonconformity.source == _choice(NcSource, source, "source"))
    return list(s.execute(q).scalars())


@dataclass(frozen=True)
class Overdue:
    nonconformity_id: int
    action_id: int | None
    what: str
    owner: str
    due_date: dt.date
    days_overdue: int


def overdue(s: Session, *, today: dt.date | None = None) -> list[Overdue]:
    """Open nonconformities past their due date and actions not done by theirs (escalation list)."""
    today = today or utcnow().date()
    out: list[Overdue] = []
    ncs = s.execute(select(Nonconformity).where(Nonconformity.status != NonconformityStatus.CLOSED.value,
                                                Nonconformity.due_date < today)).scalars()
    for nc in ncs:
        assert nc.due_date is not None
        out.append(Overdue(nc.id, None, f"不符合 NC-{nc.id} 未关闭 / not closed", nc.owner, nc.due_date,
                           (today - nc.due_date).days))
    acts = s.execute(select(CapaAction).where(CapaAction.done_at.is_(None), CapaAction.due_date < today)).scalars()
    for a in acts:
        out.append(Overdue(a.nonconformity_id, a.id, f"纠正措施 / action: {a.description}", a.owner, a.due_date,
                           (today - a.due_date).days))
    return sorted(out, key=lambda o: (-o.days_overdue, o.nonconformity_id))


def withheld(s: Session, *, report_nos: Sequence[str] = (), batch_codes: Sequence[str] = (),
             result_ids: Sequence[int] = ()) -> list[str]:
    """Why reports on these records are withheld: an open nonconformity's withhold containment on a report,
    a batch or a result among them (lims.services.reporting refuses to issue while one is in force)."""
    wanted = ([(NcLinkKind.REPORT.value, r) for r in report_nos] + [(NcLinkKind.BATCH.value, b) for b in batch_codes]
              + [(NcLinkKind.RESULT.value, str(i)) for i in result_ids])
    reasons = []
    for kind, ref in wanted:
        for row in active_containment(s, kind, ref):
            if row.containment == Containment.WITHHOLD:
                reasons.append(f"NC-{row.nonconformity_id} withholds {kind} {ref}")
    return reasons
