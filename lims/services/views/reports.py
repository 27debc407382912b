"""Reports as shown: the list, the samples ready for a report, one report's archived file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import Analysis, Report, Result, ResultStatus, Sample
from lims.db.verify import file_sha256
from lims.services import queries
from lims.services.errors import Conflict, NotFound
from lims.services.queries import Page
from lims.services.views.common import iso


class ReportRow(TypedDict):
    """An issued report version: number, language, hashes, what it supersedes and why."""

    id: int
    report_no: str
    version: int
    status: str
    lang: str
    content_hash: str
    file_sha256: str
    issued_at: str
    supersedes_id: int | None
    amendment_reason: str | None


def report_row(r: Report) -> ReportRow:
    return {"id": r.id, "report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
            "content_hash": r.content_hash, "file_sha256": r.file_sha256, "issued_at": r.issued_at.isoformat(),
            "supersedes_id": r.supersedes_id, "amendment_reason": r.amendment_reason or None}


def list_reports(s: Session, *, limit: int, offset: int) -> Page:
    return queries.page(s, select(Report).order_by(Report.id.desc()), limit, offset, report_row)


def report_file(s: Session, report_no: str) -> str:
    """The archived PDF's path of the newest stored version of ``report_no``."""
    row = s.execute(select(Report.path, Report.file_sha256).where(Report.report_no == report_no)).first()
    if row is None:
        raise NotFound(f"report {report_no} does not exist", field="report_no")
    path, sha = row
    # the file served must be the file issued: its SHA-256 is checked on every download (issue 11)
    if Path(path).is_file() and file_sha256(Path(path)) != sha:
        raise Conflict(f"report {report_no}: the archived PDF differs from the one issued (SHA-256 changed); "
                       "it is not served", field="report_no", code="report.file_altered")
    return str(path)


def reports_overview(s: Session, *, limit: int, offset: int, ready_max: int = 200,
                     issued: str = "") -> dict[str, Any]:
    """The reports page: a page of reports with their sample codes, the samples with certified results
    (``amend``: already reported, so a new issue is an amendment), and whether ``issued`` exists."""
    total, exact = queries.count_capped(s, select(Report.id))
    rows = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                     .order_by(Report.id.desc()).limit(limit).offset(offset)).all()
    ready = s.execute(select(Sample.code).join(Analysis, Analysis.sample_id == Sample.id)
                      .join(Result, Result.analysis_id == Analysis.id)
                      .where(Result.status == ResultStatus.CERTIFIED).distinct().order_by(Sample.code)
                      .limit(ready_max)).scalars().all()
    reported = set(s.execute(select(Sample.code).join(Report, Report.sample_id == Sample.id)
                             .where(Sample.code.in_(ready), Report.status == "issued")).scalars()) if ready else set()
    found = issued and s.execute(select(Report.report_no).where(Report.report_no == issued)).scalars().first()
    return {"total": total, "exact": exact, "issued": found,
            "items": [{"report_no": r.report_no, "version": r.version, "status": r.status, "lang": r.lang,
                       "sample_code": code, "issued_at": iso(r.issued_at), "content_hash": r.content_hash,
                       "amendment_reason": r.amendment_reason} for r, code in rows],
            "ready": [{"code": c, "amend": c in reported} for c in ready]}


def latest_reports(s: Session, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` newest reports with their sample codes (the dashboard)."""
    rows = s.execute(select(Report, Sample.code).join(Sample, Sample.id == Report.sample_id)
                     .order_by(Report.id.desc()).limit(n)).all()
    return [{"report_no": r.report_no, "version": r.version, "sample_code": code, "issued_at": iso(r.issued_at),
             "status": r.status} for r, code in rows]


class ReportBrief(TypedDict):
    report_no: str
    version: int
    status: str
    content_hash: str
    file_sha256: str
    issued_at: str
    amendment_reason: str | None


class VerifiedSample(TypedDict):
    """The sample a report is about, as the public verification page shows it."""

    code: str
    commodity: str
    commodity_en: str
    producer: str | None
    sampled_at: str | None


class ReportVerification(ReportBrief):
    """What anyone may check about a report (public ``/verify``): its hashes, whether it is current, its
    chain of amendments, and the sample, producer and conclusion it states."""

    current: bool
    supersedes: ReportBrief | None
    superseded_by: ReportBrief | None
    versions: list[ReportBrief]
    sample: VerifiedSample
    conclusion: str


def report_verification(s: Session, report_no: str) -> ReportVerification | None:
    """What anyone may check about a report: its content hash and file hash, whether it is still the
    current issue, and the chain of amendments it belongs to (each names the one it replaces)."""
    report = s.execute(select(Report).where(Report.report_no == report_no)
                       .order_by(Report.version.desc())).scalars().first()
    if report is None:
        return None

    def brief(r: Report) -> ReportBrief:
        return {"report_no": r.report_no, "version": r.version, "status": r.status,
                "content_hash": r.content_hash, "file_sha256": r.file_sha256,
                "issued_at": r.issued_at.isoformat(), "amendment_reason": r.amendment_reason or None}

    chain = s.execute(select(Report).where(Report.sample_id == report.sample_id).order_by(Report.version)
                      ).scalars().all()
    by_id = {r.id: r for r in chain}
    newer = next((r for r in chain if r.supersedes_id == report.id), None)
    older = by_id.get(report.supersedes_id) if report.supersedes_id else None
    sample = s.get(Sample, report.sample_id)
    assert sample is not None
    return {**brief(report), "current": report.status == "issued",
            "supersedes": brief(older) if older else None,
            "superseded_by": brief(newer) if newer else None,
            "versions": [brief(r) for r in chain],
            "sample": {"code": sample.code, "commodity": sample.commodity.name_zh,
                       "commodity_en": sample.commodity.name_en,
                       "producer": sample.producer.name if sample.producer else None,
                       "sampled_at": iso(sample.sampled_at)},
            "conclusion": report.conclusion}
