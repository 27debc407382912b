"""The MRL table (限量标准) as listed."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from lims.db.models import Limit
from lims.services import queries
from lims.services.queries import Page


class LimitRow(TypedDict):
    """A maximum residue limit with the standard and clause that state it."""

    id: int
    commodity_id: int | None
    analyte_id: int
    residue_definition: str
    limit_type: str
    value_mg_kg: float | None
    unit: str
    source_standard: str
    source_clause: str
    verified: bool
    valid_from: str | None
    valid_until: str | None


def limit_row(x: Limit) -> LimitRow:
    return {"id": x.id, "commodity_id": x.commodity_id, "analyte_id": x.analyte_id,
            "residue_definition": x.residue_definition, "limit_type": x.limit_type, "value_mg_kg": x.value_mg_kg,
            "unit": x.unit, "source_standard": x.source_standard, "source_clause": x.source_clause,
            "verified": bool(x.verified), "valid_from": x.valid_from.isoformat() if x.valid_from else None,
            "valid_until": x.valid_until.isoformat() if x.valid_until else None}


def list_limits(s: Session, *, analyte_id: int | None = None, commodity_id: int | None = None,
                limit_type: str | None = None, limit: int, offset: int) -> Page:
    q = select(Limit).order_by(Limit.id)
    if analyte_id is not None:
        q = q.where(Limit.analyte_id == analyte_id)
    if commodity_id is not None:
        q = q.where(Limit.commodity_id == commodity_id)
    if limit_type:
        q = q.where(Limit.limit_type == limit_type)
    return queries.page(s, q, limit, offset, limit_row)


class LimitsImported(TypedDict):
    """A limits CSV imported: rows inserted, rows already in the table."""

    inserted: int
    skipped_existing: int


class LimitFound(TypedDict):
    """The row a result is judged against (CONTRACTS.md, Limits), with where it was set and why."""

    value_mg_kg: float | None
    limit_type: str
    commodity: str
    matched_via: str
    group_path: list[str]
    source_standard: str
    source_clause: str
    verified: bool
    limit_id: int
    commodity_code: str
    limit_value: float | None
    unit: str
    residue_definition: str
    valid_from: str | None
    valid_until: str | None


class NamedThing(TypedDict, total=False):
    code: str
    name_zh: str
    name_en: str
    group_path: list[str]


class LimitFindAnswer(TypedDict):
    """``GET /limits/find``: the same document as ``lims limits find --json``."""

    limit: LimitFound | None
    banned: bool
    flag: str
    reason_zh: str
    reason_en: str
    commodity: NamedThing
    analyte: NamedThing
    date: str | None


def find_limit(s: Session, commodity: str, analyte: str, on: dt.date | None = None) -> LimitFindAnswer:
    from lims.services.limits import find

    return cast(LimitFindAnswer, find(s, commodity, analyte, on).as_json())


class NamedLimitRow(LimitRow):
    """A limit as the limits editor lists it: with its commodity's and analyte's names."""

    commodity_zh: str
    commodity_en: str
    analyte_zh: str
    analyte_en: str


def search_limits(s: Session, *, text: str = "", limit: int, offset: int) -> Page:
    """The MRL table with names, filtered by a word found in the commodity's or analyte's code or name
    (Chinese or English) or in the source standard."""
    from sqlalchemy import or_

    from lims.db.models import Analyte, Commodity

    q = (select(Limit, Commodity, Analyte).join(Analyte, Analyte.id == Limit.analyte_id)
         .outerjoin(Commodity, Commodity.id == Limit.commodity_id))
    word = text.strip()
    if word:
        like = f"%{word}%"
        q = q.where(or_(Analyte.code.ilike(like), Analyte.name_zh.ilike(like), Analyte.name_en.ilike(like),
                        Commodity.code.ilike(like), Commodity.name_zh.ilike(like), Commodity.name_en.ilike(like),
                        Limit.source_standard.ilike(like)))
    total, exact = queries.count_capped(s, q, offset + queries.COUNT_CAP)
    rows = s.execute(q.order_by(Limit.id).limit(limit).offset(offset)).all()
    items = [{**limit_row(x), "commodity_zh": c.name_zh if c else "", "commodity_en": c.name_en if c else "",
              "analyte_zh": a.name_zh, "analyte_en": a.name_en} for x, c, a in rows]
    return Page(items, total, limit, offset, exact)
