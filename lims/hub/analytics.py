"""Read models of the hub's analytics (one read model for the CLI, the API and the pages):

* ``stats`` — ``lims hub stats [--by FIELDS] --json`` (CONTRACTS.md "Hub"): {messages (every stored message,
  each once, of every kind), results, non_compliant, rows [{the --by fields, tested, non_compliant,
  positive}]}. Only current results count (an amended or retracted result is replaced). ``positive``: the
  residue was detected — a quantified result (``VAL``) or a non-compliant/banned verdict.
* ``non_compliant_list`` — the list published as 不合格农产品信息公开 (sample, product, producer, analyte, value,
  limit, lab, region, month).
* ``producer_records`` — producer credit records (诚信档案): results and non-compliant results per producer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lims.db.models_hub import HubReceipt, HubResult
from lims.hub.alerts import NON_COMPLIANT

STAT_FIELDS = {"region": "region_code", "commodity": "commodity", "analyte": "analyte", "verdict": "verdict",
               "lab": "lab_code", "month": "month"}


class UnknownField(ValueError):
    pass


def parse_by(text: str | None) -> list[str]:
    fields = [f.strip() for f in (text or "").split(",") if f.strip()]
    for f in fields:
        if f not in STAT_FIELDS:
            raise UnknownField(f"--by: unknown field {f!r} (one of {', '.join(STAT_FIELDS)})")
    return fields


def _counts() -> tuple[Any, Any, Any]:
    t = HubResult.__table__
    bad = func.sum(case((t.c.verdict.in_(NON_COMPLIANT), 1), else_=0))
    pos = func.sum(case(((t.c.res_type == "VAL") | t.c.verdict.in_(NON_COMPLIANT), 1), else_=0))
    return func.count(), bad, pos


def stats(s: Session, by: list[str]) -> dict[str, Any]:
    t = HubResult.__table__
    messages = s.execute(select(func.count()).select_from(HubReceipt.__table__)
                         .where(HubReceipt.state == "stored")).scalar_one()
    tested, bad, pos = _counts()
    total, total_bad = s.execute(select(tested, bad).where(t.c.current.is_(True))).one()
    cols = [t.c[STAT_FIELDS[f]] for f in by]
    rows: list[dict[str, Any]] = []
    if by:
        q = select(*cols, tested, bad, pos).where(t.c.current.is_(True)).group_by(*cols).order_by(*cols)
        for rec in s.execute(q):
            row = {f: rec[i] for i, f in enumerate(by)}
            row.update(tested=int(rec[-3]), non_compliant=int(rec[-2] or 0), positive=int(rec[-1] or 0))
            rows.append(row)
    return {"messages": int(messages), "results": int(total), "non_compliant": int(total_bad or 0), "rows": rows}


PUBLIC_COLUMNS = ("month", "region_code", "sample_code", "commodity_name", "producer_name", "producer_code",
                  "analyte_name", "value", "unit", "limit_value", "verdict", "lab_code")
PUBLIC_HEADERS_ZH = ("月份", "行政区划代码", "样品编号", "产品名称", "生产经营者", "统一社会信用代码/主体码",
                     "不合格项目", "检测值", "单位", "限量值", "判定", "检测机构")


def non_compliant_list(s: Session, *, month: str | None = None, region: str | None = None,
                       limit: int = 1000) -> list[dict[str, Any]]:
    t = HubResult.__table__
    q = (select(*(t.c[c] for c in PUBLIC_COLUMNS if c not in ("commodity_name", "analyte_name")),
                t.c.commodity, t.c.commodity_name, t.c.analyte, t.c.analyte_name)
         .where(t.c.current.is_(True), t.c.verdict.in_(NON_COMPLIANT))
         .order_by(t.c.month.desc(), t.c.region_code, t.c.sample_code).limit(limit))
    if month:
        q = q.where(t.c.month == month)
    if region:
        q = q.where(t.c.region_code.startswith(region))
    out = []
    for r in s.execute(q).mappings():
        row = {c: r[c] for c in PUBLIC_COLUMNS if c in r}
        row["commodity_name"] = r["commodity_name"] or r["commodity"]
        row["analyte_name"] = r["analyte_name"] or r["analyte"]
        out.append({c: row[c] for c in PUBLIC_COLUMNS})
    return out


def producer_records(s: Session, *, code: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """诚信档案: per producer, results tested, non-compliant, first and last non-compliant month."""
    t = HubResult.__table__
    tested, bad, _ = _counts()
    first_bad = func.min(case((t.c.verdict.in_(NON_COMPLIANT), t.c.month), else_=None))
    last_bad = func.max(case((t.c.verdict.in_(NON_COMPLIANT), t.c.month), else_=None))
    q = (select(t.c.producer_code, func.max(t.c.producer_name), tested, bad, first_bad, last_bad)
         .where(t.c.current.is_(True), t.c.producer_code != "").group_by(t.c.producer_code)
         .order_by(bad.desc(), t.c.producer_code).limit(limit))
    if code:
        q = q.where(t.c.producer_code == code)
    return [{"producer_code": r[0], "producer_name": r[1], "tested": int(r[2]), "non_compliant": int(r[3] or 0),
             "first_non_compliant_month": r[4], "last_non_compliant_month": r[5],
             "credit": "警示 / warning" if (r[3] or 0) else "良好 / good"} for r in s.execute(q)]
