"""Read models of the quality system for the REST API, the CLI and (later) the web pages: one shape each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.db.models_pt import Nonconformity
from lims.db.models_quality import AuditFinding, Complaint, QualityAudit
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import (
    AuditKind,
    AuditStatus,
    ComplaintStatus,
    Containment,
    FindingGrade,
    NcRisk,
    NcSource,
)
from lims.vocabulary import NonconformityStatus


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def nc_summary(nc: Nonconformity) -> dict[str, Any]:
    return {"id": nc.id, "source": nc.source, "source_label": NcSource.label_of(nc.source),
            "source_ref": nc.source_ref, "risk": nc.risk, "risk_label": NcRisk.label_of(nc.risk),
            "status": nc.status, "status_label": NonconformityStatus.label_of(nc.status),
            "description": nc.description, "owner": nc.owner, "raised_by": nc.raised_by,
            "due_date": _iso(nc.due_date), "opened_at": _iso(nc.opened_at), "closed_at": _iso(nc.closed_at)}


def nc_detail(s: Session, nc: Nonconformity) -> dict[str, Any]:
    doc = nc_summary(nc)
    doc.update({
        "containment": nc.containment, "root_cause": nc.root_cause, "action": nc.action,
        "verification": nc.verification,
        "links": [{"kind": lk.kind, "ref": lk.ref, "containment": lk.containment,
                   "containment_label": Containment.label_of(lk.containment), "note": lk.note,
                   "lifted_at": _iso(lk.lifted_at)} for lk in ncs.links_of(s, nc.id)],
        "actions": [{"id": a.id, "description": a.description, "owner": a.owner, "due_date": _iso(a.due_date),
                     "done_at": _iso(a.done_at), "done_note": a.done_note} for a in ncs.actions_of(s, nc.id)],
    })
    return doc


def audit_view(audit: QualityAudit, findings: list[AuditFinding] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "code": audit.code, "kind": audit.kind, "kind_label": AuditKind.label_of(audit.kind), "title": audit.title,
        "start_date": _iso(audit.start_date), "end_date": _iso(audit.end_date), "clauses": list(audit.clauses),
        "lead_auditor": audit.lead_auditor, "status": audit.status, "status_label": AuditStatus.label_of(audit.status)}
    if findings is not None:
        doc["findings"] = [finding_view(f) for f in findings]
    return doc


def finding_view(f: AuditFinding) -> dict[str, Any]:
    return {"id": f.id, "clause": f.clause, "grade": f.grade, "grade_label": FindingGrade.label_of(f.grade),
            "description": f.description, "nonconformity_id": f.nonconformity_id}


def complaint_view(c: Complaint) -> dict[str, Any]:
    return {"code": c.code, "received_on": _iso(c.received_on), "complainant": c.complainant, "subject": c.subject,
            "description": c.description, "status": c.status, "status_label": ComplaintStatus.label_of(c.status),
            "resolution": c.resolution, "nonconformity_id": c.nonconformity_id}
