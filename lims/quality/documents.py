"""Document control (ISO/IEC 17025:2017 8.3; RB/T 214-2017 4.5.3): SOPs and forms with versions; a version
is approved before use (approver and time recorded), distributed to named holders, reviewed periodically
(next review date from the document's interval); approving a new version withdraws the one in force
(obsolete, with the time it was withdrawn).

A version's file is kept, content-addressed: ``<LIMS_DOCUMENTS_DIR>/<sha256>``, written atomically (a temporary
file beside it, renamed) before the version's row commits; every read checks it against the SHA-256 the row
recorded (:func:`version_file`), and `lims backup` / `lims restore` carry and check it (lims/ops)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import filestore
from lims.clock import utcnow
from lims.config import get_settings
from lims.db.models_quality import ControlledDocument, DocumentVersion
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import DocumentStatus
from lims.services.errors import Conflict, InvalidInput, NotFound, ServiceError
from lims.workflow import transition

KINDS = ("sop", "form", "manual", "procedure")


class Gone(ServiceError):
    """The version's file is no longer in the document store (410, as a report whose PDF is missing)."""

    status_code = 410


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


def draft(s: Session, code: str, *, version: str, content: bytes = b"",
          store_dir: Path | None = None) -> DocumentVersion:
    """A draft version; its file (``content``) kept under ``store_dir`` (default ``LIMS_DOCUMENTS_DIR``)."""
    doc = get_document(s, code)
    if any(v.version == version for v in versions(s, code)):
        raise Conflict(f"{code} version {version} already exists", field="version", code="quality.duplicate_code")
    text = ncs._text(version, "version")
    digest = filestore.store(content, store_dir or get_settings().documents_dir) if content else ""
    row = DocumentVersion(document_id=doc.id, version=text, status=DocumentStatus.DRAFT, sha256=digest,
                          distribution=[])
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


def _checked(folder: Path, sha256: str, what: str) -> bytes:
    """The stored file of SHA-256 ``sha256``, read once and checked: missing → :class:`Gone`, content that no
    longer has that hash → ``document.file_altered``."""
    data = filestore.read(folder, sha256)
    if data is None:
        raise Gone(f"{what}: file {sha256} is missing from the document store", field="version",
                   code="document.file_missing")
    if not filestore.intact(data, sha256):
        raise Conflict(f"{what}: the stored file differs from the version recorded (SHA-256 changed); it is not "
                       "served", field="version", code="document.file_altered")
    return data


def version_file(s: Session, code: str, version: str, store_dir: Path | None = None) -> tuple[DocumentVersion, bytes]:
    """A version and its file's bytes, checked against the SHA-256 recorded at drafting (on every read)."""
    row = next((v for v in versions(s, code) if v.version == version), None)
    if row is None:
        raise NotFound(f"{code} has no version {version}", field="version")
    if not row.sha256:
        raise NotFound(f"{code} {version} was recorded without a file", field="version", code="document.no_file")
    return row, _checked(store_dir or get_settings().documents_dir, row.sha256, f"{code} {version}")


def file_problems(s: Session, store_dir: Path, most: int = 20) -> list[str]:
    """What is wrong with the stored files of every version that has one (a restore checks them all)."""
    problems: list[str] = []
    for code, version, sha in s.execute(
            select(ControlledDocument.code, DocumentVersion.version, DocumentVersion.sha256)
            .join(ControlledDocument, ControlledDocument.id == DocumentVersion.document_id)
            .where(DocumentVersion.sha256 != "").order_by(DocumentVersion.id)):
        try:
            _checked(store_dir, sha, f"document {code} {version}")
        except ServiceError as exc:
            problems.append(str(exc))
            if len(problems) >= most:
                break
    return problems


def stored_hashes(s: Session) -> list[str]:
    """The SHA-256s of the versions' files, in drafting order, each once (what a backup carries)."""
    seen = dict.fromkeys(h for h in s.execute(select(DocumentVersion.sha256).where(DocumentVersion.sha256 != "")
                                               .order_by(DocumentVersion.id)).scalars())
    return list(seen)


def download_name(code: str, version: str, data: bytes) -> tuple[str, str]:
    """(file name, media type) of a version's file: the name from its code and version (the name it was
    uploaded under is not kept), the type from its first bytes (PDF, Word, Excel; else octet-stream)."""
    stem = re.sub(r"[^\w.\-]+", "_", f"{code}_{version}").strip("._") or "document"
    if data.startswith(b"%PDF-"):
        return f"{stem}.pdf", "application/pdf"
    if data.startswith(b"PK\x03\x04") and b"word/document.xml" in data:
        return f"{stem}.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    if data.startswith(b"PK\x03\x04") and b"xl/workbook.xml" in data:
        return f"{stem}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return stem, "application/octet-stream"
