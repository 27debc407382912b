"""Alert rules for risk warning (风险预警), evaluated as results are stored, each alert raised once
(unique rule + subject), listed by ``GET /hub/v1/alerts`` and POSTed to the responsible level's webhook
(``LIMS_HUB_ALERT_WEBHOOK``):

* ``banned_substance``: a result with verdict ``banned_substance_detected`` (禁用药物检出) — one alert per
  result;
* ``non_compliant_rate``: the non-compliant share of current results of one region × commodity × month is
  above ``LIMS_HUB_ALERT_RATE`` once at least ``LIMS_HUB_ALERT_MIN_TESTED`` were tested;
* ``repeat_producer``: one producer has ``LIMS_HUB_ALERT_REPEAT`` or more non-compliant current results.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from lims.clock import utcnow
from lims.config import Settings
from lims.db.models_hub import HubAlert, HubResult

log = logging.getLogger(__name__)
NON_COMPLIANT = ("non_compliant", "banned_substance_detected")
RULE_LABELS = {"banned_substance": ("检出禁用药物", "banned substance detected"),
               "non_compliant_rate": ("不合格率超过阈值", "non-compliant rate above threshold"),
               "repeat_producer": ("同一生产者多次不合格", "repeated non-compliance by one producer")}


def _raise(s: Session, rule: str, subject: str, region: str, lab: str, detail: str) -> int:
    t = HubAlert.__table__
    ins = (pg_insert(t) if s.get_bind().dialect.name == "postgresql" else sqlite_insert(t)).values(
        created_at=utcnow(), rule=rule, subject=subject[:200], region_code=region, lab_code=lab, detail=detail,
        notify_error="")
    return s.execute(ins.on_conflict_do_nothing(index_elements=["rule", "subject"])).rowcount or 0


def _rate(s: Session, row: dict[str, Any], settings: Settings) -> int:
    t = HubResult.__table__
    tested, bad = s.execute(select(func.count(), func.sum(case((t.c.verdict.in_(NON_COMPLIANT), 1), else_=0)))
                            .where(t.c.month == row["month"], t.c.region_code == row["region_code"],
                                   t.c.commodity == row["commodity"], t.c.current.is_(True))).one()
    if tested < settings.hub_alert_min_tested or (bad or 0) / tested <= settings.hub_alert_rate:
        return 0
    subject = f"{row['region_code']}/{row['commodity']}/{row['month']}"
    return _raise(s, "non_compliant_rate", subject, row["region_code"], row["lab_code"],
                  f"{subject}: {bad} of {tested} results non-compliant ({100 * bad / tested:.1f} %), "
                  f"threshold {100 * settings.hub_alert_rate:.1f} %")


def _repeat(s: Session, row: dict[str, Any], settings: Settings) -> int:
    if not row["producer_code"]:
        return 0
    t = HubResult.__table__
    n = s.execute(select(func.count()).where(t.c.producer_code == row["producer_code"], t.c.current.is_(True),
                                             t.c.verdict.in_(NON_COMPLIANT))).scalar_one()
    if n < settings.hub_alert_repeat:
        return 0
    return _raise(s, "repeat_producer", f"{row['producer_code']}/{n}", row["region_code"], row["lab_code"],
                  f"producer {row['producer_name']} ({row['producer_code']}): {n} non-compliant results")


def evaluate(s: Session, rows: list[dict[str, Any]], settings: Settings) -> int:
    """Apply the rules to newly stored result rows (flushed); the number of alerts raised."""
    raised = 0
    groups_done: set[tuple[str, str, str]] = set()
    for row in rows:
        if row["verdict"] not in NON_COMPLIANT or not row["current"]:
            continue
        if row["verdict"] == "banned_substance_detected":
            raised += _raise(s, "banned_substance", f"{row['lab_code']}/{row['result_id']}", row["region_code"],
                             row["lab_code"], f"{row['analyte_name'] or row['analyte']} detected in "
                             f"{row['commodity_name'] or row['commodity']}, sample {row['sample_code']} "
                             f"({row['lab_code']})")
        group = (row["region_code"], row["commodity"], row["month"])
        if group not in groups_done:
            groups_done.add(group)
            raised += _rate(s, row, settings)
        raised += _repeat(s, row, settings)
    return raised


def alert_doc(a: Any) -> dict[str, Any]:
    zh, en = RULE_LABELS.get(a.rule, (a.rule, a.rule))
    return {"id": a.id, "created_at": a.created_at.isoformat(), "rule": a.rule, "rule_zh": zh, "rule_en": en,
            "region_code": a.region_code, "lab_code": a.lab_code, "subject": a.subject, "detail": a.detail,
            "notified_at": a.notified_at.isoformat() if a.notified_at else None, "notify_error": a.notify_error}


def list_alerts(s: Session, *, region: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = select(HubAlert).order_by(HubAlert.id.desc()).limit(limit)
    if region:
        q = q.where(HubAlert.region_code.startswith(region))
    return [alert_doc(a) for a in s.execute(q).scalars()]


def notify_pending(factory: sessionmaker[Session], url: str, timeout_s: float = 5.0) -> int:
    """POST each alert not yet notified to ``url``; the number notified (failures kept with their error)."""
    t = HubAlert.__table__
    sent = 0
    with factory() as s, httpx.Client(timeout=timeout_s) as client:
        pending = s.execute(select(HubAlert).where(HubAlert.notified_at.is_(None)).order_by(HubAlert.id)
                            .with_for_update(skip_locked=True)).scalars().all()
        for a in pending:
            try:
                resp = client.post(url, content=json.dumps(alert_doc(a), ensure_ascii=False).encode(),
                                   headers={"content-type": "application/json"})
                ok, err = resp.is_success, "" if resp.is_success else f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                ok, err = False, f"{type(exc).__name__}: {exc}"[:300]
            s.execute(t.update().where(t.c.id == a.id).values(notified_at=utcnow() if ok else None,
                                                             notify_error=err))
            sent += ok
        s.commit()
    return sent
