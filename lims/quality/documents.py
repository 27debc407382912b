"""Document control (ISO/IEC 17025:2017 8.3; RB/T 214-2017 4.5.3): SOPs and forms with versions; a version
is approved before use (approver and time recorded), distributed to named holders, reviewed periodically
(next review date from the document's interval); approving a new version withdraws the one in force
(obsolete, with the time it was withdrawn)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models_quality import ControlledDocument, DocumentVersion
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import DocumentStatus
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.workflow import transition

KINDS = ("sop", "form", "manual", "procedure")


def register(s: Session, *, code: str, title: str, kind: str, review_interval_months: int = 12) -> ControlledDocument:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind", code="quality.unknown_value")
    if not 1 <= review_interval_months <= 60:
        raise InvalidInput("review interval must be 1–60 months", field="review_interval_months",
                           code="quality.unknown_value")
    if s.execute(select(ControlledDocument.id).where(ControlledDocument.code == code)).first() is not None:
        raise Conflict(f"document {code} already exists", field="code", code="quality.duplicate_code")
    doc = ControlledDocument(code=ncs._text(code, "code"), title=ncs._text(title, "title"), kind=kind,
                             review_interval_months=review_interval_months)
    s.add(doc)
    s.flush()
    return doc


def get_document(s: Session, code: str) -> ControlledDocument:
    doc = s.execute(select(ControlledDocument).where(ControlledDocument.code == code)).scalar_one_or_none()
    if doc is None:
        raise NotFound(f"document {code} not found", field="document_code")
    return doc


def versions(s: Session, code: str) -> list[DocumentVersion]:
    doc = get_document(s, code)
    return list(s.execute(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)
                          .order_by(DocumentVersion.id)).scalars())


def draft(s: Session, code: str, *, version: str, content: bytes = b"") -> DocumentVersion:
    doc = get_document(s, code)
    if any(v.version == version for v in versions(s, code)):
        raise Conflict(f"{code} version {version} already exists", field="version", code="quality.duplicate_code")
    row = DocumentVersion(document_id=doc.id, version=ncs._text(version, "version"), status=DocumentStatus.DRAFT,
                          sha256=hashlib.sha256(content).hexdigest() if content else "", distribution=[])
    s.add(row)
    s.flush()
    return row


def _add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + y, m + 1, min(day.day, 28))


def approve(s: Session, code: str, *, version: str, approver: str, now: dt.datetime | None = None) -> DocumentVersion:
    doc = get_document(s, code)
    now = now or utcnow()
    rows = versions(s, code)
    target = next((v for v in rows if v.version == version), None)
    if target is None:
        raise NotFound(f"{code} has no version {version}", field="version")
    target.approved_by, target.approved_at = ncs._text(approver, "approver"), now
    target.next_review_on = _add_months(now.date(), doc.review_interval_months)
    transition(target, DocumentStatus.APPROVED)
    for v in rows:
        if v is not target and v.status == DocumentStatus.APPROVED:
            transition(v, DocumentStatus.OBSOLETE)
            v.withdrawn_at = now
    return target


def distribute(s: Session, code: str, *, version: str, holders: Sequence[str]) -> DocumentVersion:
    row = next((v for v in versions(s, code) if v.version == version), None)
    if row is None:
        raise NotFound(f"{code} has no version {version}", field="version")
    if row.status != DocumentStatus.APPROVED:
        raise Conflict(f"{code} {version} is {row.status}: only an approved version is distributed",
                       field="version", code="quality.document_not_approved")
    row.distribution = sorted({*row.distribution, *(h.strip() for h in holders if h.strip())})
    return row


def due_for_review(s: Session, *, today: dt.date | None = None) -> list[tuple[str, str, dt.date]]:
    today = today or utcnow().date()
    rows = s.execute(select(ControlledDocument.code, DocumentVersion.version, DocumentVersion.next_review_on)
                     .join(DocumentVersion, DocumentVersion.document_id == ControlledDocument.id)
                     .where(DocumentVersion.status == DocumentStatus.APPROVED.value,
                            DocumentVersion.next_review_on <= today)).all()
    return [(c, v, d) for c, v, d in rows if d is not None]


def mark_reviewed(s: Session, code: str, *, version: str, now: dt.datetime | None = None) -> DocumentVersion:
    doc = get_document(s, code)
    row = next((v for v in versions(s, code) if v.version == version and v.status == DocumentStatus.APPROVED), None)
    if row is None:
        raise NotFound(f"{code} has no approved version {version}", field="version")
    row.next_review_on = _add_months((now or utcnow()).date(), doc.review_interval_months)
    return row
