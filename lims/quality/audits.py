"""Audits and inspections (ISO/IEC 17025:2017 8.8; RB/T 214-2017; CNAS/CMA assessments, flight inspections
(飞行检查), supervisory checks): a yearly programme whose internal audits cover every clause of the clause
library (``clauses.csv``, shipped as data), checklists generated from it, findings graded major / minor /
observation (a major or minor finding opens a nonconformity; an observation is a note for improvement,
not a nonconformity), and evidence files stored under their SHA-256 with a size limit.

The evidence folder (``LIMS_EVIDENCE_DIR``, :func:`evidence_dir`) keeps each file once as ``<sha256>``, written
atomically by :func:`store_evidence` — the one writer, for evidence and for instruments' calibration
certificates (lims.quality.instruments) alike. A file is found by its row's SHA-256 in the folder (the row's
``path`` column, kept, is not read), so a restore onto a machine with other paths finds it; `lims backup` /
`lims restore` carry and check them (:func:`backup_hashes`, :func:`file_problems`, lims/ops).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import csvio, filestore
from lims.config import Settings, get_settings
from lims.db.models_quality import AuditFinding, AuditProgramme, QualityAudit, QualityEvidence
from lims.db.models_registers import InstrumentCheck
from lims.quality import nonconformity as ncs
from lims.quality.vocabulary import AuditKind, AuditStatus, FindingGrade, NcLinkKind, NcRisk, NcSource
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.workflow import transition

CLAUSES_CSV = Path(__file__).with_name("clauses.csv")
#: Evidence files larger than this are refused (a scanned record, a photo; not a video).
MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
EVIDENCE_OWNERS = ("audit", "finding", "nonconformity", "complaint")
RISK_OF_GRADE = {FindingGrade.MAJOR: NcRisk.HIGH, FindingGrade.MINOR: NcRisk.MEDIUM}


@dataclass(frozen=True)
class Clause:
    clause_id: str
    standard: str
    number: str
    title_zh: str
    title_en: str


@cache
def clause_library() -> tuple[Clause, ...]:
    table = csvio.CsvTable.from_file(CLAUSES_CSV, comment="#")
    cols = ("clause_id", "standard", "number", "title_zh", "title_en")
    table.require(cols)
    return tuple(Clause(*(r.values[c].strip() for c in cols)) for r in table.rows(cols))


def clause(clause_id: str) -> Clause:
    for c in clause_library():
        if c.clause_id == clause_id.strip():
            return c
    raise InvalidInput(f"unknown clause {clause_id!r} (see lims/quality/clauses.csv, e.g. 17025:7.10, "
                       "RBT214:4.5.9)", field="clauses", code="quality.unknown_clause")


def _dates(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise InvalidInput(f"end date {end} is before start date {start}", field="end_date",
                           code="quality.dates_out_of_order")


def plan_audit(s: Session, *, code: str, kind: str, title: str, start_date: dt.date, end_date: dt.date,
               clauses: Sequence[str], lead_auditor: str = "", programme_year: int | None = None) -> QualityAudit:
    try:
        kind = AuditKind(kind).value
    except ValueError:
        raise InvalidInput(f"kind must be one of {', '.join(AuditKind)}", field="kind",
                           code="quality.unknown_value") from None
    _dates(start_date, end_date)
    ids = [clause(c).clause_id for c in clauses]
    if not ids:
        raise InvalidInput("an audit covers at least one clause", field="clauses", code="quality.unknown_clause")
    if s.execute(select(QualityAudit.id).where(QualityAudit.code == code)).first() is not None:
        raise Conflict(f"audit {code} already exists", field="code", code="quality.duplicate_code")
    programme = None
    if programme_year is not None:
        programme = s.execute(select(AuditProgramme).where(AuditProgramme.year == programme_year)).scalar_one_or_none()
        if programme is None:
            raise NotFound(f"no audit programme for {programme_year}", field="year")
    audit = QualityAudit(code=code.strip(), kind=kind, title=title.strip() or code, start_date=start_date,
                         end_date=end_date, clauses=list(dict.fromkeys(ids)), lead_auditor=lead_auditor.strip(),
                         programme_id=programme.id if programme else None, status=AuditStatus.PLANNED)
    s.add(audit)
    s.flush()
    return audit


def create_programme(s: Session, *, year: int, title: str = "", audits: int = 4,
                     lead_auditor: str = "") -> AuditProgramme:
    """The year's programme: ``audits`` internal audits (one per period) that between them cover every clause
    of the library, chapters kept together."""
    if not 1 <= audits <= 12:
        raise InvalidInput("audits per year must be 1–12", field="audits", code="quality.unknown_value")
    if s.execute(select(AuditProgramme.id).where(AuditProgramme.year == year)).first() is not None:
        raise Conflict(f"the {year} audit programme already exists", field="year", code="quality.duplicate_code")
    programme = AuditProgramme(year=year, title=title.strip() or f"{year} 年度内部审核方案 / internal audit programme")
    s.add(programme)
    s.flush()
    library = clause_library()
    per = -(-len(library) // audits)
    months = 12 // audits
    for i in range(audits):
        part = library[i * per:(i + 1) * per]
        if not part:
            break
        start = dt.date(year, 1 + i * months, 1)
        end = dt.date(year, 1 + i * months, 28)
        plan_audit(s, code=f"IA-{year}-{i + 1:02d}", kind=AuditKind.INTERNAL, start_date=start, end_date=end,
                   title=f"{year} 内部审核 第 {i + 1} 次 / internal audit {i + 1}", clauses=[c.clause_id for c in part],
                   lead_auditor=lead_auditor, programme_year=year)
    return programme


def programme_coverage(s: Session, year: int) -> dict[str, list[str]]:
    """Clauses the year's internal audits cover and those they miss."""
    covered: set[str] = set()
    for (clauses,) in s.execute(select(QualityAudit.clauses).where(
            QualityAudit.kind == AuditKind.INTERNAL.value, QualityAudit.start_date >= dt.date(year, 1, 1),
            QualityAudit.start_date <= dt.date(year, 12, 31))):
        covered.update(clauses)
    ids = [c.clause_id for c in clause_library()]
    return {"covered": [c for c in ids if c in covered], "missing": [c for c in ids if c not in covered]}


def get_audit(s: Session, code: str) -> QualityAudit:
    audit = s.execute(select(QualityAudit).where(QualityAudit.code == code.strip())).scalar_one_or_none()
    if audit is None:
        raise NotFound(f"audit {code} not found", field="audit_code")
    return audit


def checklist(s: Session, code: str) -> list[dict[str, str]]:
    """One item per clause of the audit, with the question the auditor answers and the evidence to look at."""
    audit = get_audit(s, code)
    items = []
    for cid in audit.clauses:
        c = clause(cid)
        items.append({"clause_id": c.clause_id, "standard": c.standard, "number": c.number, "title_zh": c.title_zh,
                      "title_en": c.title_en,
                      "question": f"{c.number} {c.title_zh}：现场查看记录并询问人员，是否符合要求？ / "
                                  f"{c.number} {c.title_en}: do records and interviews show conformity?"})
    return items


def start_audit(s: Session, code: str) -> QualityAudit:
    audit = get_audit(s, code)
    transition(audit, AuditStatus.IN_PROGRESS)
    return audit


def complete_audit(s: Session, code: str) -> QualityAudit:
    audit = get_audit(s, code)
    transition(audit, AuditStatus.COMPLETED)
    return audit


def add_finding(s: Session, code: str, *, clause_id: str, grade: str, description: str, raised_by: str,
                owner: str = "") -> AuditFinding:
    """A finding against a clause of the audit; major and minor open a nonconformity (source ``audit``)."""
    audit = get_audit(s, code)
    c = clause(clause_id)
    try:
        grade = FindingGrade(grade).value
    except ValueError:
        raise InvalidInput(f"grade must be one of {', '.join(FindingGrade)}", field="grade",
                           code="quality.unknown_value") from None
    if audit.status == AuditStatus.COMPLETED:
        raise Conflict(f"audit {code} is completed", field="audit_code", code="quality.audit_completed")
    finding = AuditFinding(audit_id=audit.id, clause=c.clause_id, grade=grade,
                           description=ncs._text(description, "description"))
    s.add(finding)
    s.flush()
    if grade != FindingGrade.OBSERVATION:
        nc = ncs.raise_nc(s, source=NcSource.AUDIT, risk=RISK_OF_GRADE[FindingGrade(grade)], raised_by=raised_by,
                          owner=owner, source_ref=f"{audit.code} / {c.clause_id}",
                          description=(f"{AuditKind(audit.kind).zh} {audit.code} 发现（{FindingGrade(grade).zh}，"
                                       f"{c.standard} {c.number} {c.title_zh}）：{finding.description}"),
                          links=[(NcLinkKind.FINDING.value, str(finding.id))])
        finding.nonconformity_id = nc.id
    return finding


def list_audits(s: Session) -> list[QualityAudit]:
    """Every audit and inspection, newest start date first (the QA manager's board)."""
    return list(s.execute(select(QualityAudit).order_by(QualityAudit.start_date.desc(), QualityAudit.id.desc()))
                .scalars())


def findings_of(s: Session, code: str) -> list[AuditFinding]:
    audit = get_audit(s, code)
    return list(s.execute(select(AuditFinding).where(AuditFinding.audit_id == audit.id)
                          .order_by(AuditFinding.id)).scalars())


def evidence_dir(settings: Settings | None = None) -> Path:
    """``LIMS_EVIDENCE_DIR``; unset: ``quality-evidence`` beside the report folder (where evidence always was)."""
    settings = settings or get_settings()
    return Path(settings.evidence_dir or Path(settings.report_dir).parent / "quality-evidence")


def store_evidence(data: bytes, store_dir: Path | None = None) -> str:
    """Keep ``data`` in the evidence folder (``store_dir``, default :func:`evidence_dir`; :func:`lims.filestore.store`:
    atomically, the same content once); returns its SHA-256. The one writer of the evidence folder: evidence
    files and calibration certificates."""
    return filestore.store(data, store_dir or evidence_dir())


def stored_evidence(sha256: str, store_dir: Path | None = None) -> bytes | None:
    """The bytes of the evidence folder's file named ``sha256`` (None: not there); the caller checks them."""
    return filestore.read(store_dir or evidence_dir(), sha256)


def attach_evidence(s: Session, *, owner_kind: str, owner_id: int, filename: str, data: bytes,
                    store_dir: Path | None = None, uploaded_by: str = "", max_bytes: int | None = None) -> QualityEvidence:
    """Store ``data`` as ``<store_dir>/<sha256>`` (default :func:`evidence_dir`; content-addressed: the same
    file is kept once) and record it."""
    if owner_kind not in EVIDENCE_OWNERS:
        raise InvalidInput(f"evidence belongs to one of {', '.join(EVIDENCE_OWNERS)}", field="owner_kind",
                           code="quality.unknown_value")
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name:
        raise InvalidInput("file name is missing", field="filename", code="quality.missing_text")
    max_bytes = MAX_EVIDENCE_BYTES if max_bytes is None else max_bytes
    if len(data) > max_bytes:
        raise InvalidInput(f"{name} is {len(data)} bytes: the limit is {max_bytes} bytes", field="file",
                           code="quality.file_too_large")
    if not data:
        raise InvalidInput(f"{name} is empty", field="file", code="quality.missing_text")
    folder = store_dir or evidence_dir()
    digest = store_evidence(data, folder)
    row = QualityEvidence(owner_kind=owner_kind, owner_id=owner_id, filename=name, sha256=digest,
                          size_bytes=len(data), path=str(folder / digest), uploaded_by=uploaded_by)
    s.add(row)
    s.flush()
    return row


def evidence_ok(row: QualityEvidence, store_dir: Path | None = None) -> bool:
    """Whether the evidence folder still holds the file with the recorded hash."""
    data = stored_evidence(row.sha256, store_dir)
    return data is not None and filestore.intact(data, row.sha256)


def backup_hashes(s: Session) -> tuple[list[str], list[str]]:
    """(evidence files' SHA-256s, calibration certificates' SHA-256s not among them), each once, in record
    order: what a backup carries. Every evidence file was stored with its row; a certificate recorded before
    the files were kept (only its hash) may have none."""
    evidence = list(dict.fromkeys(s.execute(select(QualityEvidence.sha256).order_by(QualityEvidence.id)).scalars()))
    seen = set(evidence)
    certificates = [h for h in dict.fromkeys(s.execute(
        select(InstrumentCheck.certificate_sha256).where(InstrumentCheck.certificate_sha256 != "")
        .order_by(InstrumentCheck.id)).scalars()) if h not in seen]
    return evidence, certificates


def file_problems(s: Session, store_dir: Path, most: int = 20) -> list[str]:
    """What is wrong in the evidence folder (a restore checks it): an evidence row's file missing or changed, a
    certificate's file changed (a certificate recorded with its hash only has no file to miss)."""
    evidence, certificates = backup_hashes(s)
    problems: list[str] = []
    for sha, required in [*((h, True) for h in evidence), *((h, False) for h in certificates)]:
        data = stored_evidence(sha, store_dir)
        if data is None and required:
            problems.append(f"evidence file {sha} is missing from {store_dir}")
        elif data is not None and not filestore.intact(data, sha):
            problems.append(f"{'evidence' if required else 'certificate'} file {sha} in {store_dir} no longer "
                            "has that SHA-256")
        if len(problems) >= most:
            break
    return problems
