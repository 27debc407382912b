"""Review and approval with electronic signatures (21 CFR 11.50/11.70/11.200; ISO/IEC 17025 7.5).

An e-signature is the signer's re-entered password plus a meaning; it is bound to the exact record
content through ``record_hash``. Reviewer ≠ analyst; approver ≠ reviewer and holds signatory
authority for the method. Approval certifies the result and, in the same transaction, queues its
upstream message (transactional outbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.db.anchors import request_checkpoint
from lims.db.audit import record_hash
from lims.db.models import (
    Analysis,
    Batch,
    MethodSignatory,
    Result,
    ResultStatus,
    Role,
    Sample,
    SampleStatus,
    Signature,
    User,
)
from lims.limits.judgement import LimitJudgement
from lims.quality.staff import require_for_result
from lims.services import auth
from lims.services.batches import batch_held
from lims.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from lims.services.limit_judgements import apply_judgement, unjudged
from lims.services.quantitation import not_identified
from lims.upstream.outbox import queue_results
from lims.vocabulary import AnalysisStatus, BatchStatus, SignatureMeaning, Verdict
from lims.workflow import transition

TZ_CHINA = dt.timezone(dt.timedelta(hours=8), "CST")



@dataclass(frozen=True)
class SignatureManifestation:
    """What is shown wherever a signed record is shown or printed (21 CFR 11.50)."""

    printed_name: str
    signed_at: str  # ISO-8601 with the timezone
    meaning: str

    @classmethod
    def of(cls, sig: Signature) -> SignatureManifestation:
        return cls.shown(sig.printed_name, sig.signed_at, sig.meaning)

    @classmethod
    def shown(cls, printed_name: str, signed_at: dt.datetime, meaning: str) -> SignatureManifestation:
        at = as_utc(signed_at)
        try:
            shown = SignatureMeaning(meaning).manifestation
        except ValueError:
            shown = f"{meaning} / {meaning}"
        return cls(printed_name, at.astimezone(TZ_CHINA).isoformat(timespec="seconds"), shown)


def authenticate_signer(s: Session, username: str, password: str, role: Role) -> User:
    # throttled and logged like a login; a service account never signs (lims.services.auth)
    user = auth.check_signature(s, username, password)
    if role not in user.role_names:
        raise Forbidden(f"{user.username} does not hold the role {role}", code="signoff.missing_role")
    return user


def _sign(s: Session, user: User, result: Result, meaning: str) -> Signature:
    sig = Signature(record_type="result", record_id=result.id, user_id=user.id, printed_name=user.full_name,
                    meaning=meaning, record_hash=record_hash(result), signed_at=utcnow())
    s.add(sig)  # written by the caller's _flush_signed, once for the whole batch of results
    return sig


def _flush_signed(s: Session, meaning: str) -> None:
    """Write the signatures now: a parallel request that signed the same record version first (one
    signature per meaning per version, unique index uq_signature_meaning) is a clean 409, not a 500."""
    try:
        s.flush()
    except IntegrityError as exc:
        raise Conflict(f"already signed ({meaning}) by a request that finished first; reload the record",
                       field="result_ids", code="signoff.already_signed") from exc


def _load(s: Session, result_ids: list[int]) -> list[Result]:
    results = s.execute(select(Result).where(Result.id.in_(result_ids)).order_by(Result.id)).scalars().all()
    found = {r.id for r in results}
    missing = [i for i in result_ids if i not in found]
    if missing:
        raise NotFound(f"result {missing[0]} does not exist", field="result_ids")
    return list(results)


def _signed_ids(s: Session, result_ids: list[int], meaning: str) -> set[int]:
    return set(s.execute(select(Signature.record_id).where(
        Signature.record_type == "result", Signature.record_id.in_(result_ids), Signature.meaning == meaning))
        .scalars())


def review_results(s: Session, result_ids: list[int], *, username: str, password: str) -> list[Signature]:
    """Reviewer signs (meaning 'review'): to_be_reviewed → reviewed. Reviewer ≠ analyst.
    All results are checked before any is signed: one refused result refuses the whole request."""
    reviewer = authenticate_signer(s, username, password, Role.REVIEWER)
    results = _load(s, result_ids)
    authored = _signed_ids(s, result_ids, SignatureMeaning.AUTHORSHIP)
    for r in results:
        if r.status != ResultStatus.TO_BE_REVIEWED:
            raise Conflict(f"result {r.id} is {r.status}, not to_be_reviewed", field="result_ids",
                           code="result.not_to_be_reviewed")
        if r.analyst_id == reviewer.id:
            raise Forbidden(f"result {r.id}: the reviewer must not be the analyst", field="result_ids",
                            code="signoff.reviewer_is_analyst")
        require_for_result(s, reviewer, r, "review")  # authorisation matrix (issue 15)
        if r.id not in authored:
            raise Conflict(f"result {r.id} has not been signed by its analyst (authorship) yet",
                           field="result_ids", code="signoff.not_authored")
        held = batch_held(s, r.analysis)
        if held:
            batch = s.get(Batch, r.analysis.batch_id)  # in the identity map: batch_held loaded it
            failed = batch is not None and batch.status == BatchStatus.QC_FAILED
            raise Conflict(f"result {r.id} is held: {held}", field="result_ids",
                           code="batch.qc_failed" if failed else "batch.qc_pending")
    sigs = []
    for r in results:
        r.reviewer_id = reviewer.id
        transition(r, ResultStatus.REVIEWED)
        sigs.append(_sign(s, reviewer, r, SignatureMeaning.REVIEW))
    _flush_signed(s, SignatureMeaning.REVIEW)
    _advance_samples(s, {r.analysis.sample for r in results}, SampleStatus.REVIEWED)
    return sigs


def approve_results(s: Session, result_ids: list[int], *, username: str, password: str,
                    lab_code: str, judgements: Mapping[int, LimitJudgement] | None = None) -> list[Signature]:
    """Approver signs (meaning 'approval'): reviewed → certified, queued upstream in the same transaction.
    All results are checked before any is signed. A result without an applicable limit (无限量标准) needs
    the approver's explicit judgement, given in ``judgements`` (result id → judgement) or recorded before
    (lims.services.limit_judgements); it is written on the result before the signature binds it."""
    approver = authenticate_signer(s, username, password, Role.APPROVER)
    authorised = set(s.execute(select(MethodSignatory.method_id).where(MethodSignatory.user_id == approver.id))
                     .scalars())
    results = _load(s, result_ids)
    for r in results:
        if r.status != ResultStatus.REVIEWED:
            raise Conflict(f"result {r.id} is {r.status}, not reviewed", field="result_ids",
                           code="result.not_reviewed")
        if r.reviewer_id == approver.id or r.analyst_id == approver.id:
            raise Forbidden(f"result {r.id}: the approver must differ from analyst and reviewer",
                            field="result_ids", code="signoff.approver_not_independent")
        if r.analysis.method_id not in authorised:
            raise Forbidden(f"result {r.id}: {approver.username} holds no signatory authority for method "
                            f"{r.analysis.method.code}", field="result_ids",
                            code="signoff.no_signatory_authority")
        require_for_result(s, approver, r, "sign")  # authorisation matrix: validity dates (issue 15)
        if not_identified(r):  # RT / ion ratio failed the method's identification rule (issue 12)
            raise Conflict(f"result {r.id}: retention time / ion ratio do not identify the analyte; it cannot be "
                           "reported as detected", field="result_ids", code="result.not_identified")
    given = dict(judgements or {})
    missing = unjudged(results, given)
    if missing:
        raise Conflict(f"result {missing[0]} has no applicable limit (无限量标准): its approver must judge it "
                       "explicitly before approval (no limit applies / a named standard / a value with its "
                       "source)", field="result_ids", code="signoff.limit_judgement_required")
    superseded = {r.supersedes_id for r in results if r.supersedes_id is not None}
    olds = {o.id: o for o in s.execute(select(Result).where(Result.id.in_(superseded))).scalars()} if superseded \
        else {}
    sigs = []
    for r in results:
        r.approver_id = approver.id
        if r.id in given:
            apply_judgement(s, r, given[r.id], approver)
        sigs.append(_sign(s, approver, r, SignatureMeaning.APPROVAL))  # bound to the content as certified
    # the signatures (a parallel one of the same version: 409 here) and what they bind are written before
    # the results become certified, after which only their status may change (lims.db.audit)
    _flush_signed(s, SignatureMeaning.APPROVAL)
    for r in results:
        transition(r, ResultStatus.CERTIFIED)
        old = olds.get(r.supersedes_id) if r.supersedes_id is not None else None
        if old is not None and old.status in (ResultStatus.CERTIFIED, ResultStatus.REPORTED):
            transition(old, ResultStatus.SUPERSEDED)
    queue_results(s, results, lab_code=lab_code)  # one message per sample, in this transaction
    _flush_signed(s, SignatureMeaning.APPROVAL)
    _advance_samples(s, {r.analysis.sample for r in results}, SampleStatus.APPROVED)
    request_checkpoint(s, lab_code=lab_code)  # signed audit checkpoint when this unit of work commits
    return sigs


_ORDER = [SampleStatus.REGISTERED, SampleStatus.RECEIVED, SampleStatus.IN_ANALYSIS, SampleStatus.TO_BE_REVIEWED,
          SampleStatus.REVIEWED, SampleStatus.APPROVED, SampleStatus.REPORTED]
_STAGE = {SampleStatus.REVIEWED: {ResultStatus.REVIEWED, ResultStatus.CERTIFIED, ResultStatus.REPORTED},
          SampleStatus.APPROVED: {ResultStatus.CERTIFIED, ResultStatus.REPORTED},
          SampleStatus.REPORTED: {ResultStatus.REPORTED}}


def _advance_samples(s: Session, samples: set[Sample], target: SampleStatus) -> None:
    """A sample moves forward only when every current result of it has reached the target stage
    (one query for all the samples)."""
    movable = {x.id: x for x in samples
               if x.status in _ORDER and _ORDER.index(SampleStatus(x.status)) < _ORDER.index(target)}
    if not movable:
        return
    statuses: dict[int, list[str]] = {}
    for sample_id, status in s.execute(
            select(Analysis.sample_id, Result.status).join(Analysis).where(
                Analysis.sample_id.in_(list(movable)), Result.status.not_in((ResultStatus.SUPERSEDED, ResultStatus.REJECTED)))).all():
        statuses.setdefault(sample_id, []).append(status)
    for sample_id, sample in movable.items():
        current = statuses.get(sample_id, [])
        if current and all(p in _STAGE[target] for p in current):
            transition(sample, target)


def signatures_for(s: Session, result_id: int) -> list[SignatureManifestation]:
    sigs = s.execute(select(Signature).where(Signature.record_type == "result", Signature.record_id == result_id)
                     .order_by(Signature.id)).scalars()
    return [SignatureManifestation.of(x) for x in sigs]


def author_results(s: Session, result_ids: list[int], *, username: str, password: str) -> list[Signature]:
    """The technician signs authorship (检验) of results produced in their batch."""
    tech = authenticate_signer(s, username, password, Role.TECHNICIAN)
    results = _load(s, result_ids)
    for r in results:
        if r.status != ResultStatus.TO_BE_REVIEWED:
            raise Conflict(f"result {r.id} is {r.status}, not to_be_reviewed", field="result_ids",
                           code="result.not_to_be_reviewed")
        if r.analyst_id not in (None, tech.id):
            raise Forbidden(f"result {r.id} belongs to another analyst", field="result_ids",
                            code="signoff.not_own_result")
        require_for_result(s, tech, r, "test")  # authorisation matrix (issue 15)
    already = _signed_ids(s, result_ids, SignatureMeaning.AUTHORSHIP)
    if already:
        raise Conflict(f"result {min(already)} is already signed by its analyst (authorship)", field="result_ids",
                       code="signoff.already_signed")
    sigs = []
    for r in results:
        r.analyst_id = tech.id
        sigs.append(_sign(s, tech, r, SignatureMeaning.AUTHORSHIP))
    _flush_signed(s, SignatureMeaning.AUTHORSHIP)
    return sigs


def reject_results(s: Session, result_ids: list[int], *, username: str, password: str, reason: str,
                   retest: bool = True) -> list[Signature]:
    """Reviewer or approver sends results back (rejected), optionally asking for a re-test."""
    if len(reason.strip()) < 5:
        raise InvalidInput("a rejection needs a reason (at least 5 characters)", field="reason",
                           code="signoff.rejection_needs_reason")
    user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    role = Role.APPROVER if user is not None and Role.APPROVER in user.role_names else Role.REVIEWER
    signer = authenticate_signer(s, username, password, role)
    sigs = []
    for r in _load(s, result_ids):
        if r.status not in (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED):
            raise Conflict(f"result {r.id} is {r.status}; only unreleased results can be rejected",
                           field="result_ids", code="result.not_rejectable")
        transition(r, ResultStatus.REJECTED)
        sigs.append(_sign(s, signer, r, SignatureMeaning.REJECTION))
        analysis = r.analysis
        transition(analysis, AnalysisStatus.PENDING if retest else AnalysisStatus.REJECTED)
        if retest:
            analysis.batch_id = None  # free to join a re-run batch; the held batch keeps its record
        transition(analysis.sample, SampleStatus.RETEST if retest else SampleStatus.REJECTED)
    _flush_signed(s, SignatureMeaning.REJECTION)
    return sigs


def amend_result(s: Session, result_id: int, *, value: float | None, value_text: str, reason: str,
                 analyst_id: int) -> Result:
    """A correction of a certified result: a new version naming the one it supersedes, which stays
    certified (and on its report) until the correction is approved (ISO/IEC 17025 7.5.2, 7.8.8)."""
    if len(reason.strip()) < 5:
        raise InvalidInput("an amendment needs a reason (at least 5 characters)", field="reason")
    old = s.get(Result, result_id)
    if old is None:
        raise NotFound(f"result {result_id} does not exist", field="result_id")
    if old.status not in (ResultStatus.CERTIFIED, ResultStatus.REPORTED):
        raise Conflict(f"result {result_id} is {old.status}; only certified results are amended",
                       field="result_id")
    pending = s.execute(select(Result.id).where(Result.supersedes_id == old.id,
                                                Result.status.not_in((ResultStatus.REJECTED,)))).first()
    if pending:
        raise Conflict(f"result {result_id} already has an amendment in progress", field="result_id",
                       code="result.amendment_in_progress")
    new = Result(analysis_id=old.analysis_id, version=old.version + 1, supersedes_id=old.id, value=value,
                 value_text=value_text, unit=old.unit, qualitative=old.qualitative,
                 inhibition_percent=old.inhibition_percent, lod=old.lod, loq=old.loq, source=old.source,
                 reading_id=old.reading_id, curve_id=old.curve_id, manual_reason=reason,
                 details={**(old.details or {}), "amendment_reason": reason, "amends_result": old.id},
                 analyst_id=analyst_id, status=ResultStatus.TO_BE_REVIEWED)
    s.add(new)
    try:
        s.flush()
    except IntegrityError as exc:  # a parallel amendment made this version first (PostgreSQL)
        raise Conflict(f"result {result_id} already has an amendment in progress", field="result_id",
                       code="result.amendment_in_progress") from exc
    if old.unit == "mg/kg":
        from lims.services.limits import decide_result

        decide_result(s, new, value_mg_kg=value, detected=value is not None, rule=old.decision_rule or None,
                      decision_limit_mg_kg=old.lod)
    else:
        new.verdict, new.decision_rule = old.verdict, old.decision_rule
        check = (new.details or {}).get("limit_check")
        if check and check.get("judgement"):  # a limit judgement is of one version: the correction is judged anew
            new.details = {**(new.details or {}), "limit_check": {**check, "judgement": None}}
            new.verdict = Verdict.NOT_EVALUATED
    s.flush()
    return new
