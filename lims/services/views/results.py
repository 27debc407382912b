"""Results as shown: one result with its calculation trail and signatures, the review queues."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import Analysis, Batch, Result, ResultStatus, Signature
from lims.services import queries
from lims.services.errors import NotFound
from lims.services.queries import Page
from lims.services.signoff import SignatureManifestation


class SignatureShown(TypedDict):
    """An e-signature's manifestation (21 CFR 11.50(a)): printed name, when (with its zone), meaning."""

    printed_name: str
    signed_at: str
    meaning: str


class ResultRow(TypedDict):
    """A result as listed and shown, with its signature manifestations."""

    id: int
    sample_code: str
    analyte: str
    analyte_code: str
    method: str
    kind: str
    version: int
    supersedes_id: int | None
    value: float | None
    value_text: str
    unit: str
    qualitative: str | None
    inhibition_percent: float | None
    lod: float | None
    loq: float | None
    expanded_uncertainty: float | None
    verdict: str
    decision_rule: str
    status: str
    source: str
    created_at: str | None
    signatures: list[SignatureShown]
    #: The limit the result is judged against, its source and ``verified``, the flag 无限量标准 and the
    #: warning to show (lims.limits.checks); None for a screening result.
    limit_check: dict[str, Any] | None
    #: The value as the lab reports it (the method's precision, GB/T 8170; ``value`` keeps full precision),
    #: and LOD/LOQ with their unit ("0.005 mg/kg").
    reported_text: str | None
    lod_text: str | None
    loq_text: str | None


class UpstreamState(TypedDict):
    """A result's upstream delivery (lims.upstream.queue.result_delivery): not_queued / pending / delivered (with
    the hub's receipt id) / dead (with the hub's reason)."""

    result_id: int
    state: str
    state_label: str
    message_id: int | None
    receipt_id: str | None
    reason: str | None


class ResultDetail(ResultRow):
    """One result with its calculation trail, for a manual entry the reason given, and its upstream delivery."""

    details: dict[str, Any] | None
    manual_reason: str | None
    upstream: UpstreamState


class SignedResults(TypedDict):
    """The answer to a signing request: how many results were signed, and the signatures made."""

    signed: int
    signatures: list[SignatureShown]


def signed_results(sigs: list[Signature]) -> SignedResults:
    """Signatures just made, as shown (21 CFR 11.50)."""
    return {"signed": len(sigs), "signatures": [cast(SignatureShown, SignatureManifestation.of(x).__dict__)
                                                for x in sigs]}


def result_row(s: Session, r: Result) -> ResultRow:
    """A result (just written, say) as listed, with its signatures."""
    return cast(ResultRow, queries.result_row(s, r))


def result_detail(s: Session, result_id: int) -> ResultDetail:
    r = s.get(Result, result_id)
    if r is None:
        raise NotFound(f"result {result_id} does not exist", field="result_id")
    row: dict[str, Any] = queries.result_row(s, r)
    row["details"] = r.details
    row["manual_reason"] = r.manual_reason or None
    from lims.upstream.queue import result_delivery

    row["upstream"] = dict(vars(result_delivery(s, [r.id])[r.id]))
    return cast(ResultDetail, row)


def review_queues(s: Session, size: int) -> dict[str, Any]:
    """The review page's two queues (to review, to approve; ``size`` newest each) and, per result in
    them, the code and status of its batch (a held batch blocks review); and the readings held for review per
    instrument (an overdue or failed instrument, an incomplete run: they make no result until released)."""
    pages: dict[str, Page] = {st: queries.list_results(s, status=st, limit=size)
                              for st in (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED)}
    ids = [r["id"] for p in pages.values() for r in p.items]
    batches = {rid: {"code": code, "status": st} for rid, code, st in s.execute(
        select(Result.id, Batch.code, Batch.status).join(Analysis, Analysis.id == Result.analysis_id)
        .join(Batch, Batch.id == Analysis.batch_id).where(Result.id.in_(ids))).all()} if ids else {}
    from lims.quality.instruments import held_summary  # issue 15: readings held (unfit instrument, run gaps)

    return {"to_review": pages[ResultStatus.TO_BE_REVIEWED], "to_approve": pages[ResultStatus.REVIEWED],
            "batches": batches, "held_readings": held_summary(s)}
