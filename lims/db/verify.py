"""`lims audit verify`: the audit chain and every certified record against its signature."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.audit import record_hash, verify_chain
from lims.db.models import FROZEN_RESULT_STATUSES, AuditEvent, Result, Signature


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    audit_events: int
    certified_records: int
    message: str


def verify_database(session: Session) -> VerifyReport:
    chain = verify_chain(session)
    if not chain.ok:
        return VerifyReport(False, chain.events, 0, chain.message)
    signatures = {
        s.record_id: s
        for s in session.execute(
            select(Signature).where(Signature.record_type == "result", Signature.meaning == "approval")
        ).scalars()
    }
    signed_ids = {int(r) for r in session.execute(
        select(AuditEvent.record_id).where(AuditEvent.table_name == "signature", AuditEvent.action == "create")
    ).scalars()}
    sig_ids = {s.id for s in signatures.values()}
    missing_events = sig_ids - signed_ids
    if missing_events:
        first = min(missing_events)
        return VerifyReport(False, chain.events, 0,
                            f"signature {first} has no audit event (audit trail truncated)")
    checked = 0
    for result in session.execute(
        select(Result).where(Result.status.in_([str(s) for s in FROZEN_RESULT_STATUSES])).order_by(Result.id)
    ).scalars():
        sig = signatures.get(result.id)
        if sig is None:
            return VerifyReport(False, chain.events, checked,
                                f"result {result.id} is {result.status} but has no approval signature")
        if record_hash(result) != sig.record_hash:
            return VerifyReport(False, chain.events, checked,
                                f"result {result.id} (analysis {result.analysis_id} v{result.version}) "
                                "differs from the content its approver signed")
        checked += 1
    return VerifyReport(True, chain.events, checked,
                        f"audit trail intact: {chain.events} events; {checked} certified results match "
                        "their signatures")
