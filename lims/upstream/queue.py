"""Reading and steering the outbox: its counts (``lims upstream status``), each message and result's delivery
state (the API), and re-queueing dead letters (a QA manager; the audit trail records who, when and why).
Services take a Session and never commit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.clock import as_utc, utcnow
from lims.db.models import OutboxItem, OutboxMessage
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.vocabulary import OutboxStatus
from lims.workflow import transition


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    delivered: int
    dead_letter: int
    failed: int  # pending messages whose last attempt failed (a subset of pending)
    oldest_pending_at: dt.datetime | None

    def as_json(self) -> dict[str, object]:
        return {"pending": self.pending, "delivered": self.delivered, "dead_letter": self.dead_letter,
                "oldest_pending_at": as_utc(self.oldest_pending_at).isoformat() if self.oldest_pending_at else None}


def status(s: Session) -> QueueStatus:
    """Counts over messages of every kind (results, amendments, retractions, checkpoints, progress)."""
    counts = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    failed = s.execute(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING,
                                                  OutboxMessage.last_error != "")).scalar_one()
    oldest = s.execute(select(func.min(OutboxMessage.created_at))
                       .where(OutboxMessage.status == OutboxStatus.PENDING)).scalar()
    return QueueStatus(pending=int(counts.get(OutboxStatus.PENDING, 0)),
                       delivered=int(counts.get(OutboxStatus.DELIVERED, 0)),
                       dead_letter=int(counts.get(OutboxStatus.DEAD, 0)), failed=int(failed),
                       oldest_pending_at=oldest)


@dataclass(frozen=True)
class MessageRow:
    id: int
    kind: str
    idempotency_key: str
    sample_code: str | None
    status: str
    status_label: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str
    receipt_id: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    result_ids: list[int]


def _row(m: OutboxMessage, result_ids: list[int]) -> MessageRow:
    return MessageRow(id=m.id, kind=m.kind, idempotency_key=m.idempotency_key, sample_code=m.sample_code,
                      status=m.status, status_label=OutboxStatus.label_of(m.status),
                      attempts=m.attempts, next_attempt_at=m.next_attempt_at if m.status == "pending" else None,
                      last_error=m.last_error, receipt_id=m.receipt_id or None, created_at=m.created_at,
                      delivered_at=m.delivered_at, result_ids=result_ids)


def list_messages(s: Session, *, status_: str | None = None, kind: str | None = None, sample_code: str | None = None,
                  result_id: int | None = None, limit: int = 50, offset: int = 0) -> tuple[list[MessageRow], int]:
    """Messages, newest first, with the results each carries; filters combine."""
    if status_ is not None and status_ not in {x.value for x in OutboxStatus}:
        raise InvalidInput(f"unknown delivery status {status_!r}", field="status", code="upstream.unknown_status")
    q = select(OutboxMessage)
    if status_:
        q = q.where(OutboxMessage.status == status_)
    if kind:
        q = q.where(OutboxMessage.kind == kind)
    if sample_code:
        q = q.where(OutboxMessage.sample_code == sample_code)
    if result_id is not None:
        q = q.where(OutboxMessage.id.in_(select(OutboxItem.message_id).where(OutboxItem.result_id == result_id)))
    total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    msgs = list(s.execute(q.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)).scalars())
    items: dict[int, list[int]] = {}
    if msgs:
        for mid, rid in s.execute(select(OutboxItem.message_id, OutboxItem.result_id)
                                  .where(OutboxItem.message_id.in_([m.id for m in msgs]))
                                  .order_by(OutboxItem.result_id)).all():
            items.setdefault(mid, []).append(rid)
    return [_row(m, items.get(m.id, [])) for m in msgs], int(total)


@dataclass(frozen=True)
class ResultDelivery:
    """A result's upstream state: its newest message (pending / delivered with the hub's receipt / dead with
    the hub's reason), or ``not_queued`` when it was never certified."""

    result_id: int
    state: str
    state_label: str
    message_id: int | None
    receipt_id: str | None
    reason: str | None


def result_delivery(s: Session, result_ids: list[int]) -> dict[int, ResultDelivery]:
    rows = s.execute(select(OutboxItem.result_id, OutboxMessage).join(OutboxMessage,
                                                                    OutboxMessage.id == OutboxItem.message_id)
                     .where(OutboxItem.result_id.in_(result_ids)).order_by(OutboxMessage.id)).all()
    out = {rid: ResultDelivery(rid, "not_queued", "未上报 / not queued", None, None, None) for rid in result_ids}
    for rid, m in rows:  # the newest message wins (a retraction after the certification)
        out[rid] = ResultDelivery(rid, m.status, OutboxStatus.label_of(m.status), m.id, m.receipt_id or None,
                                  m.last_error or None if m.status != OutboxStatus.DELIVERED else None)
    return out


def requeue(s: Session, message_ids: list[int] | None = None, *, dead: bool = False) -> list[int]:
    """Put dead-lettered messages back in the queue, due now (the caller's unit of work carries the actor and
    reason into the audit trail). ``dead``: every dead letter. A named message that is not dead is refused."""
    if dead:
        msgs = list(s.execute(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.DEAD)
                              .order_by(OutboxMessage.id)).scalars())
    else:
        if not message_ids:
            raise InvalidInput("name the messages to re-queue, or all dead letters", field="message_ids",
                               code="upstream.nothing_to_requeue")
        msgs = []
        for mid in message_ids:
            msg = s.get(OutboxMessage, mid)
            if msg is None:
                raise NotFound(f"outbox message {mid} does not exist", field="message_ids")
            if msg.status != OutboxStatus.DEAD:
                raise Conflict(f"outbox message {mid} is {msg.status}, not dead-lettered", field="message_ids",
                               code="upstream.not_dead")
            msgs.append(msg)
    for msg in msgs:
        transition(msg, OutboxStatus.PENDING)
        msg.next_attempt_at = utcnow()
        msg.attempts = 0
    s.flush()
    return [m.id for m in msgs]
