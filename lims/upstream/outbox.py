"""The transactional outbox: the upstream message of a certification, amendment or retraction is added in
the caller's transaction (services never commit), validated against the canonical record
(:mod:`lims.upstream.schema`) before it is queued.

One message per sample per unit of work, carrying that sample's results in result order (at most
:data:`~lims.upstream.schema.MAX_RESULTS_PER_MESSAGE`; more are split in order). Its Idempotency-Key is
``LAB:result:<first result id>`` (``LAB:retraction:<id>`` for a retraction), stable across re-sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.quantify import round_gb8170
from lims.db.audit import canonical_json
from lims.db.models import Lab, Limit, MonitoringTask, OutboxItem, OutboxMessage, Result, Sample
from lims.services import reported
from lims.services.errors import Conflict
from lims.upstream import schema as w
from lims.vocabulary import AnalysisKind, SamplingLink, Verdict

RESULTS_KIND = "result"
RETRACTION_KIND = "retraction"
PROGRESS_KIND = "task_progress"
_EVAL = {Verdict.COMPLIANT, Verdict.NON_COMPLIANT, Verdict.COMPLIANT_WITHIN_UNCERTAINTY, Verdict.NOT_EVALUATED,
         Verdict.BANNED_SUBSTANCE_DETECTED}
#: Sampling strategy (SSD2 sampStrategy) by programme: 例行监测 and 监督抽查 draw at random (双随机),
#: 专项 and 风险 monitoring select.
_STRATEGY = {"routine": "random", "supervisory": "random", "special": "selective", "risk": "selective"}


def _none(text: str | None) -> str | None:
    return text or None


def _sampling_point(stored: str) -> str | None:
    if not stored:
        return None
    for link in SamplingLink:
        if stored in (link.value, link.label("zh"), link.label("en")):
            return str(link.value)
    return "other"


def _lab(s: Session, sample: Sample, lab_code: str) -> w.LabRef:
    lab = s.get(Lab, sample.lab_id)
    if lab is None:
        return w.LabRef(code=lab_code)
    return w.LabRef(code=lab_code, name=lab.name, region_code=_none(lab.region_code), cma_number=_none(lab.cma_number))


def _event(s: Session, sample: Sample) -> w.SamplingEvent:
    task = s.execute(select(MonitoringTask).where(MonitoringTask.code == sample.task_code)).scalar_one_or_none() \
        if sample.task_code else None
    programme = task.programme_type if task is not None else None
    return w.SamplingEvent.model_validate({
        "task_code": _none(sample.task_code), "programme_type": programme,
        "strategy": _STRATEGY.get(programme or ""), "sampling_point": _sampling_point(sample.sampling_link),
        "region_code": _none(sample.region_code), "place": _none(sample.sampling_place),
        "sampled_at": sample.sampled_at})


def _sample(sample: Sample) -> w.SampleRecord:
    p = sample.producer
    producer = None if p is None else w.Producer(
        name=p.name, credit_code=_none(p.credit_code), kind=_none(p.kind), region_code=_none(p.region_code))
    return w.SampleRecord(code=sample.code, product_code=sample.commodity.code, product_name=sample.commodity.name_zh,
                          origin_region_code=_none(p.region_code if p else sample.region_code),
                          certificate_no=_none(sample.certificate_no), trace_code=_none(sample.trace_code),
                          producer=producer)


def res_type(r: Result) -> str:
    """SSD2 resType: BIN for a qualitative (screening) call, VAL for a value, LOQ/LOD when not quantified."""
    if r.qualitative:
        return "BIN"
    if r.value is not None:
        return "VAL"
    return "LOQ" if "LOQ" in (r.value_text or "").upper() else "LOD"


def _value(s: Session, r: Result) -> w.ResultValue:
    """The value as reported (the method's precision, GB/T 8170) and U to 2 significant figures (JCGM
    100:2008 7.2.6); the database keeps full precision."""
    u = r.expanded_uncertainty
    recovery = (r.details or {}).get("recovery_percent")
    return w.ResultValue(
        res_type=res_type(r), value=reported.value_number(s, r),  # type: ignore[arg-type]
        value_text=reported.value_text(s, r) if reported.is_reported_number(r) else _none(r.value_text),
        unit=r.unit, lod=r.lod, loq=r.loq, expanded_uncertainty=float(round_gb8170(u, figures=2)) if u else u,
        coverage_factor=r.coverage_factor, recovery_percent=recovery if isinstance(recovery, int | float) else None,
        qualitative=_none(r.qualitative))


def _evaluation(s: Session, r: Result) -> tuple[w.Evaluation, str]:
    code = r.verdict if r.verdict in _EVAL else Verdict.NOT_EVALUATED  # a screening call is no evaluation
    limit = s.get(Limit, r.limit_id) if r.limit_id is not None else None
    ref = None
    if limit is not None:
        ref = w.LimitRef(value=limit.value_mg_kg, unit=limit.unit, source=limit.source_standard,
                         limit_type="banned" if limit.limit_type == "banned" else "MRL")
    elif ((r.details or {}).get("limit_check") or {}).get("judgement"):
        ref = w.LimitRef(limit_type="lab_judgement", source=str(r.details["limit_check"]["judgement"])[:300])  # type: ignore[index]
    if code in (Verdict.NON_COMPLIANT, Verdict.BANNED_SUBSTANCE_DETECTED):
        action = "authority_notified"
    elif r.verdict == Verdict.SCREEN_POSITIVE:
        action = "confirmation_requested"
    else:
        action = "none"
    return w.Evaluation.model_validate({"code": str(code), "limit": ref, "decision_rule": _none(r.decision_rule)}), action


def result_item(s: Session, r: Result, *, change: str | None = None, reason: str | None = None) -> w.ResultItem:
    a = r.analysis
    evaluation, action = _evaluation(s, r)
    change = change or ("amendment" if r.supersedes_id else "original")
    reason = reason or ((r.details or {}).get("amendment_reason") if change == "amendment" else None)
    return w.ResultItem.model_validate({
        "result_id": r.id, "version": r.version, "change": change, "supersedes": r.supersedes_id,
        "reason": reason, "certified_at": None,
        "analysis": w.AnalysisRecord(analyte=a.analyte.code, analyte_name=a.analyte.name_zh, method=a.method.code,
                                     standard=_none(a.method.standard),
                                     kind="confirmatory" if a.kind == AnalysisKind.CONFIRMATORY else "screening",
                                     analysed_at=r.created_at),
        "result": _value(s, r), "evaluation": evaluation, "action_taken": action})


def build_batch(s: Session, sample: Sample, items: Sequence[w.ResultItem], *, lab_code: str) -> w.ResultBatch:
    return w.ResultBatch(lab=_lab(s, sample, lab_code), sampling_event=_event(s, sample), sample=_sample(sample),
                         results=list(items))


def _by_sample(results: Iterable[Result]) -> dict[int, list[Result]]:
    groups: dict[int, list[Result]] = {}
    for r in sorted(results, key=lambda x: x.id):
        groups.setdefault(r.analysis.sample_id, []).append(r)
    return groups


def _add(s: Session, *, kind: str, key: str, doc: w.Wire, sample_code: str | None,
         result_ids: Sequence[int]) -> OutboxMessage:
    msg = _message(s, kind=kind, key=key, doc=doc, sample_code=sample_code)
    s.flush()
    s.add_all(OutboxItem(message_id=msg.id, result_id=rid) for rid in result_ids)
    return msg


def _message(s: Session, *, kind: str, key: str, doc: w.Wire, sample_code: str | None) -> OutboxMessage:
    """The message, its payload validated against its schema as it will be sent (added, not yet flushed)."""
    payload = doc.wire()
    try:
        w.validate_message(payload)  # the payload as it will be sent, re-read against its schema
    except w.MessageInvalid as exc:
        raise Conflict(f"upstream message for {sample_code or kind} does not match its schema: {exc}",
                       field=exc.problems[0].split(":")[0], code="upstream.payload_invalid") from None
    msg = OutboxMessage(kind=kind, idempotency_key=key, payload=canonical_json(payload), sample_code=sample_code)
    s.add(msg)
    return msg


def queue_results(s: Session, results: Iterable[Result], *, lab_code: str) -> list[OutboxMessage]:
    """Queue the upstream messages of certified results (originals and amendments): one per sample, in
    result order, split at the batch limit."""
    queued: list[tuple[OutboxMessage, list[int]]] = []
    s.flush()  # what the messages describe is written; building them reads, it changes nothing
    with s.no_autoflush:  # (else every read in the loop would flush the message added before it)
        for rows in _by_sample(results).values():
            sample = rows[0].analysis.sample
            for i in range(0, len(rows), w.MAX_RESULTS_PER_MESSAGE):
                chunk = rows[i:i + w.MAX_RESULTS_PER_MESSAGE]
                doc = build_batch(s, sample, [result_item(s, r) for r in chunk], lab_code=lab_code)
                queued.append((_message(s, kind=RESULTS_KIND, key=f"{lab_code}:result:{chunk[0].id}", doc=doc,
                                        sample_code=sample.code), [r.id for r in chunk]))
    s.flush()  # the messages' ids, once for all of them (then their items)
    s.add_all(OutboxItem(message_id=msg.id, result_id=rid) for msg, ids in queued for rid in ids)
    return [msg for msg, _ in queued]


def queue_result_message(s: Session, r: Result, *, lab_code: str) -> OutboxMessage:
    """One result's message (kept for callers that certify one result at a time)."""
    return queue_results(s, [r], lab_code=lab_code)[0]


def queue_retraction(s: Session, r: Result, *, lab_code: str, reason: str) -> OutboxMessage:
    """Withdraw a delivered result upstream (no successor): the result as it stands, ``change`` retraction,
    naming itself as the result it withdraws. Ordered after its original like an amendment."""
    sample = r.analysis.sample
    item = result_item(s, r, change="retraction", reason=reason)
    item = item.model_copy(update={"supersedes": r.id})
    doc = build_batch(s, sample, [item], lab_code=lab_code)
    return _add(s, kind=RETRACTION_KIND, key=f"{lab_code}:retraction:{r.id}", doc=doc, sample_code=sample.code,
                result_ids=[r.id])


def payload_of(msg: OutboxMessage) -> dict[str, Any]:
    import json

    return dict(json.loads(msg.payload))
