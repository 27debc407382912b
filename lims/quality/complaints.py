"""Complaints (ISO/IEC 17025:2017 7.9): received → investigating → resolved (resolution written) → closed.
A complaint that reveals nonconforming work opens a nonconformity (source ``complaint``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import utcnow
from lims.db.models_quality import Complaint
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import ComplaintStatus, NcLinkKind, NcSource
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.workflow import transition


def receive(s: Session, *, code: str, complainant: str, subject: str, description: str,
            received_on: dt.date | None = None) -> Complaint:
    received_on = received_on or utcnow().date()
    if received_on > utcnow().date():
        raise InvalidInput(f"received date {received_on} is in the future", field="received_on",
                           code="quality.dates_out_of_order")
    if s.execute(select(Complaint.id).where(Complaint.code == code)).first() is not None:
        raise Conflict(f"complaint {code} already exists", field="code", code="quality.duplicate_code")
    row = Complaint(code=ncs._text(code, "code"), complainant=ncs._text(complainant, "complainant"),
                    subject=ncs._text(subject, "subject"), description=ncs._text(description, "description"),
                    received_on=received_on, status=ComplaintStatus.RECEIVED)
    s.add(row)
    s.flush()
    return row


def get_complaint(s: Session, code: str) -> Complaint:
    row = s.execute(select(Complaint).where(Complaint.code == code)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"complaint {code} not found", field="complaint_code")
    return row


def investigate(s: Session, code: str, *, raised_by: str, open_nc: bool = False, risk: str = "medium",
                owner: str = "") -> Complaint:
    row = get_complaint(s, code)
    transition(row, ComplaintStatus.INVESTIGATING)
    if open_nc and row.nonconformity_id is None:
        nc = ncs.raise_nc(s, source=NcSource.COMPLAINT, raised_by=raised_by, risk=risk, owner=owner,
                          source_ref=row.code, description=f"投诉 {row.code}（{row.complainant}）：{row.subject}。"
                                                           f"{row.description}",
                          links=[(NcLinkKind.COMPLAINT.value, row.code)])
        row.nonconformity_id = nc.id
    return row


def resolve(s: Session, code: str, *, resolution: str) -> Complaint:
    row = get_complaint(s, code)
    row.resolution = ncs._text(resolution, "resolution")
    transition(row, ComplaintStatus.RESOLVED)
    return row


def close(s: Session, code: str) -> Complaint:
    row = get_complaint(s, code)
    transition(row, ComplaintStatus.CLOSED)
    return row


def list_complaints(s: Session, *, status: str | None = None) -> list[Complaint]:
    q = select(Complaint).order_by(Complaint.id)
    if status:
        q = q.where(Complaint.status == status)
    return list(s.execute(q).scalars())
