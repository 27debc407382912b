"""Storing an accepted message (one unit of work; the caller commits): the bytes in ``hub_message``, one
flattened row per result in ``hub_result`` (amendments and retractions make the result they replace no longer
current), the receipt marked ``stored``, the relay outbox row when this hub relays upward, and the alert
rules. Core inserts (executemany) keep the receiver fast; the rows are the hub's data, not audited records.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from lims.config import Settings
from lims.db.models import OutboxMessage
from lims.db.models_hub import HubMessage, HubReceipt, HubResult
from lims.hub import alerts
from lims.upstream.schema import ResultBatch, Wire
from lims.vocabulary import OutboxStatus

log = logging.getLogger(__name__)
RELAY_KIND = "relay"


def _producer(batch: ResultBatch) -> tuple[str, str]:
    p = batch.sample.producer
    if p is None:
        return "", ""
    return (p.credit_code or p.trace_entity_code or f"name:{p.name}")[:80], p.name[:300]


def result_rows(batch: ResultBatch, *, receipt_id: int, received_at: dt.datetime) -> list[dict[str, Any]]:
    ev_region = batch.sampling_event.region_code or batch.lab.region_code or ""
    sampled = batch.sampling_event.sampled_at or received_at
    producer_code, producer_name = _producer(batch)
    rows = []
    for i, item in enumerate(batch.results):
        r, ev = item.result, item.evaluation
        rows.append({
            "receipt_id": receipt_id, "position": i, "received_at": received_at, "lab_code": batch.lab.code,
            "result_id": item.result_id, "change": item.change, "supersedes": item.supersedes,
            "current": item.change != "retraction", "sample_code": batch.sample.code, "region_code": ev_region,
            "commodity": batch.sample.product_code, "commodity_name": batch.sample.product_name or "",
            "analyte": item.analysis.analyte, "analyte_name": item.analysis.analyte_name or "",
            "verdict": ev.code, "res_type": r.res_type, "value": r.value, "unit": r.unit,
            "limit_value": ev.limit.value if ev.limit else None, "limit_type": ev.limit.limit_type if ev.limit else "",
            "producer_code": producer_code, "producer_name": producer_name, "month": f"{sampled:%Y-%m}"})
    return rows


def _relay(s: Session, key: str, lab: str, sample: str | None, body: bytes, now: dt.datetime) -> None:
    t = OutboxMessage.__table__
    key = key if key.startswith(f"{lab}:") else f"{lab}:{key}"[:80]  # relay keys stay unique across labs
    ins = (pg_insert(t) if s.get_bind().dialect.name == "postgresql" else sqlite_insert(t)).values(
        kind=RELAY_KIND, idempotency_key=key, payload=body.decode(), status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=now, last_error="", created_at=now, receipt_id="",
        sample_code=f"{lab}/{sample}"[:60] if sample else None)
    s.execute(ins.on_conflict_do_nothing(index_elements=["idempotency_key"]))


def _insert_results(s: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY (one round trip for the batch); else executemany."""
    conn = s.connection()
    if conn.dialect.name != "postgresql":
        s.execute(insert(HubResult.__table__), rows)
        return
    cols = [c.name for c in HubResult.__table__.columns]
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY hub_result ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in cols])


def store_message(s: Session, *, receipt_id: int, received_at: dt.datetime, lab: str, signer: str,
                  idempotency_key: str, body: bytes, msg: Wire, settings: Settings) -> int:
    """Store a validated message under its claimed receipt; the number of new alerts."""
    batch = msg if isinstance(msg, ResultBatch) else None
    sample = batch.sample.code if batch else None
    s.execute(insert(HubMessage.__table__).values(receipt_id=receipt_id, received_at=received_at, lab_code=lab,
                                                  schema=str(getattr(msg, "schema_", "")), sample_code=sample,
                                                  payload=body.decode()))
    rows: list[dict[str, Any]] = []
    if batch is not None:
        rows = result_rows(batch, receipt_id=receipt_id, received_at=received_at)
        replaced = [item.supersedes for item in batch.results if item.supersedes is not None]
        if replaced:
            t = HubResult.__table__
            s.execute(update(t).where(t.c.lab_code == lab, t.c.result_id.in_(replaced), t.c.current.is_(True))
                      .values(current=False))
        _insert_results(s, rows)
    s.execute(update(HubReceipt.__table__).where(HubReceipt.id == receipt_id)
              .values(state="stored", results=len(rows)))
    if settings.hub_relay_url:
        _relay(s, idempotency_key, lab, sample, body, received_at)
    return alerts.evaluate(s, rows, settings) if rows else 0


def notify_async(factory: sessionmaker[Session], settings: Settings) -> None:
    """POST pending alerts to the webhook in a thread (the answer to the lab does not wait for it)."""
    if not settings.hub_alert_webhook:
        return
    threading.Thread(target=alerts.notify_pending, args=(factory, settings.hub_alert_webhook),
                     name="hub alert webhook", daemon=True).start()
