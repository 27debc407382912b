"""`lims audit verify`: the audit chain, its newest signed anchor, every row a certificate rests on, every
certified record against its signatures, and every issued report file against its stored hash.

One pass over the trail (streamed by seq) checks the chain and replays the covered rows
(:mod:`lims.db.rowstate`); the anchor log (:mod:`lims.db.anchors`) proves the trail was neither cut short
nor re-chained; then the certified results, their signatures and the report files are checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db import anchors
from lims.db.audit import record_hash, verify_chain
from lims.db.models import FROZEN_RESULT_STATUSES, Report, Result, Signature
from lims.db.rowstate import MAX_PROBLEMS, RowReplay
from lims.vocabulary import SignatureMeaning


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    audit_events: int
    certified_records: int
    message: str
    problems: list[str] = field(default_factory=list)
    anchor: str = ""


def verify_database(session: Session) -> VerifyReport:
    replay = RowReplay()
    chain = verify_chain(session, visit=replay)
    anchor = anchors.check_against_chain(session, chain)
    if not chain.ok:
        problems = [chain.message] + ([anchor.message] if not anchor.ok else [])
        return VerifyReport(False, chain.events, 0, chain.message, problems, anchor.message)
    problems = [] if anchor.ok else [anchor.message]
    problems += replay.compare(session)
    checked, cert_problems = _certified(session)
    problems += cert_problems
    problems += _report_files(session)
    if problems:
        extra = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return VerifyReport(False, chain.events, checked, problems[0] + extra, problems[:MAX_PROBLEMS],
                            anchor.message)
    return VerifyReport(True, chain.events, checked,
                        f"audit trail intact: {chain.events} events; {anchor.message}; covered rows match the "
                        f"trail; {checked} certified results match their signatures", [], anchor.message)


def _certified(session: Session) -> tuple[int, list[str]]:
    """Each certified result: its content as approved, and its approval, review and authorship signatures
    by the people the result names (a signer or a signature changed behind the application is named)."""
    sigs: dict[tuple[int, str], list[Signature]] = {}
    for sig in session.execute(select(Signature).where(Signature.record_type == "result")).scalars():
        sigs.setdefault((sig.record_id, sig.meaning), []).append(sig)
    problems: list[str] = []
    checked = 0
    for result in session.execute(
        select(Result).where(Result.status.in_([str(s) for s in FROZEN_RESULT_STATUSES])).order_by(Result.id)
    ).scalars():
        label = f"result {result.id} (analysis {result.analysis_id} v{result.version})"
        approval = sigs.get((result.id, SignatureMeaning.APPROVAL), [])
        review = sigs.get((result.id, SignatureMeaning.REVIEW), [])
        if not approval:
            problems.append(f"{label} is {result.status} but has no approval signature")
        elif record_hash(result) != approval[0].record_hash:
            problems.append(f"{label} differs from the content its approver signed")
        elif approval[0].user_id != result.approver_id:
            problems.append(f"{label}: approval signature {approval[0].id} is by user {approval[0].user_id}, "
                            f"the result names approver {result.approver_id}")
        if not review:
            problems.append(f"{label} is {result.status} but has no review signature")
        elif review[0].user_id != result.reviewer_id:
            problems.append(f"{label}: review signature {review[0].id} is by user {review[0].user_id}, "
                            f"the result names reviewer {result.reviewer_id}")
        for meaning in (SignatureMeaning.APPROVAL, SignatureMeaning.REVIEW, SignatureMeaning.AUTHORSHIP):
            if len(sigs.get((result.id, meaning), [])) > 1:
                problems.append(f"{label} carries {len(sigs[(result.id, meaning)])} {meaning} signatures")
        checked += 1
        if len(problems) >= MAX_PROBLEMS:
            break
    session.expunge_all()
    return checked, problems


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def report_file_problem(report_no: str, path_text: str, expected_sha256: str) -> str | None:
    """None when the report's PDF is on disk with the hash stored at issue; else what is wrong."""
    path = Path(path_text)
    if not path.is_file():
        return f"report {report_no}: file {path_text} is missing from the archive"
    if file_sha256(path) != expected_sha256:
        return f"report {report_no}: file {path_text} differs from the PDF issued (SHA-256 changed)"
    return None


def _report_files(session: Session) -> list[str]:
    problems = []
    for report_no, version, path, sha in session.execute(
            select(Report.report_no, Report.version, Report.path, Report.file_sha256).order_by(Report.id)):
        problem = report_file_problem(f"{report_no} v{version}", path, sha)
        if problem:
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                break
    return problems
