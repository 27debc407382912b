"""Reconciliation: a lab asks which of its message ids (Idempotency-Keys) the hub holds
(``POST /hub/v1/reconcile``) and re-sends the missing ones (lims.hub.client.reconcile); the daily report per
lab (``lims hub reconcile-report --date``) counts what each lab delivered that day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.db.models import HubReceipt

MAX_IDS = 10_000


def held(s: Session, lab: str, ids: list[str]) -> dict[str, list[str]]:
    """{held, missing} among ``ids`` for messages about ``lab`` (stored, whoever relayed them)."""
    t = HubReceipt.__table__
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        found.update(s.execute(select(t.c.idempotency_key).where(
            t.c.message_lab == lab, t.c.state == "stored", t.c.idempotency_key.in_(chunk))).scalars())
    return {"held": [k for k in ids if k in found], "missing": [k for k in ids if k not in found]}


def daily_report(s: Session, day: dt.date) -> dict[str, Any]:
    t = HubReceipt.__table__
    lo = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    hi = lo + dt.timedelta(days=1)
    q = (select(t.c.message_lab, t.c.schema, func.count(), func.sum(t.c.results), func.min(t.c.received_at),
                func.max(t.c.received_at))
         .where(t.c.state == "stored", t.c.received_at >= lo, t.c.received_at < hi)
         .group_by(t.c.message_lab, t.c.schema).order_by(t.c.message_lab, t.c.schema))
    labs: dict[str, dict[str, Any]] = {}
    for lab, schema, n, results, first, last in s.execute(q):
        entry = labs.setdefault(lab, {"lab": lab, "messages": 0, "results": 0, "by_schema": {}, "first": None,
                                      "last": None})
        entry["messages"] += int(n)
        entry["results"] += int(results or 0)
        entry["by_schema"][schema] = int(n)
        entry["first"] = min(filter(None, [entry["first"], first.isoformat()]))
        entry["last"] = max(filter(None, [entry["last"], last.isoformat()]))
    in_flight = s.execute(select(func.count()).where(t.c.state == "in_flight")).scalar_one()
    return {"date": day.isoformat(), "labs": list(labs.values()), "in_flight": int(in_flight)}
