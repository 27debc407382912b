"""The MRL table in the database: import (starter table or a lab-maintained CSV, every rejected row
reported), lookup by commodity × analyte, and the conformity decision recorded on a result."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calibration.uncertainty import expanded_uncertainty
from lims import units
from lims.db.models import Analyte, Commodity, Limit, Result
from lims.limits import (
    DecisionRule,
    ImportReport,
    LimitRow,
    LimitType,
    RejectedRow,
    evaluate,
    load_starter_table,
)
from lims.services.lookup import code_exists


@dataclass(frozen=True)
class LimitImport:
    inserted: int
    skipped_existing: int
    rejected: tuple[RejectedRow, ...]


def _code(text: str) -> str:
    code = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper()
    return code[:60] or "X"


def _analyte(s: Session, row: LimitRow) -> Analyte:
    found = s.execute(select(Analyte).where(or_(Analyte.name_zh == row.analyte_zh,
                                                Analyte.code == _code(row.analyte_en or row.analyte_zh))
                                            )).scalars().first()
    if found is None:
        found = Analyte(code=_code(row.analyte_en or row.analyte_zh), name_zh=row.analyte_zh,
                        name_en=row.analyte_en or row.analyte_zh, cas=row.cas,
                        kind="banned" if row.limit_type == LimitType.BANNED else "pesticide")
        s.add(found)
        s.flush()
    return found


def _commodity(s: Session, row: LimitRow) -> Commodity:
    found = s.execute(select(Commodity).where(Commodity.name_zh == row.commodity_zh)).scalars().first()
    if found is None:
        code = _code(row.commodity_en or row.commodity_zh)
        if code_exists(s, Commodity, code):
            code = f"{code}-{abs(hash(row.commodity_zh)) % 10000}"
        found = Commodity(code=code, name_zh=row.commodity_zh, name_en=row.commodity_en or row.commodity_zh,
                          category=row.commodity_category)
        s.add(found)
        s.flush()
    return found


def import_limits(s: Session, report: ImportReport) -> LimitImport:
    """Store the accepted rows (idempotent: an identical limit is not stored twice)."""
    inserted = skipped = 0
    for row in report.accepted:
        commodity = _commodity(s, row)
        analyte = _analyte(s, row)
        exists = s.execute(select(Limit.id).where(
            Limit.commodity_id == commodity.id, Limit.analyte_id == analyte.id,
            Limit.residue_definition == row.residue_definition, Limit.source_standard == row.source_standard)
        ).first()
        if exists:
            skipped += 1
            continue
        s.add(Limit(commodity_id=commodity.id, analyte_id=analyte.id, residue_definition=row.residue_definition,
                    limit_type=str(row.limit_type), value_mg_kg=row.limit_mg_kg, unit=row.unit or "mg/kg",
                    source_standard=row.source_standard, source_clause=row.source_clause))
        inserted += 1
    s.flush()
    return LimitImport(inserted, skipped, report.rejected)


def import_starter_table(s: Session) -> LimitImport:
    return import_limits(s, load_starter_table())


def find_limit(s: Session, commodity_id: int, analyte_id: int) -> Limit | None:
    """The commodity's own limit first, then a limit for all commodities (commodity_id NULL)."""
    rows = s.execute(select(Limit).where(Limit.analyte_id == analyte_id,
                                         or_(Limit.commodity_id == commodity_id, Limit.commodity_id.is_(None)))
                     .order_by(Limit.commodity_id.is_(None), Limit.id)).scalars().all()
    return rows[0] if rows else None


def _as_row(limit: Limit, s: Session) -> LimitRow:
    analyte = s.get(Analyte, limit.analyte_id)
    commodity = s.get(Commodity, limit.commodity_id) if limit.commodity_id else None
    assert analyte is not None
    return LimitRow(line=0, commodity_zh=commodity.name_zh if commodity else "所有", commodity_en="",
                    commodity_category="", analyte_zh=analyte.name_zh, analyte_en=analyte.name_en, cas=analyte.cas,
                    residue_definition=limit.residue_definition, limit_type=LimitType(limit.limit_type),
                    limit_value=limit.value_mg_kg, unit="mg/kg" if limit.value_mg_kg is not None else None,
                    source_standard=limit.source_standard, source_clause=limit.source_clause, notes="")


def decide_result(s: Session, result: Result, *, value_mg_kg: float | None, detected: bool,
                  rule: str | None = None, decision_limit_mg_kg: float | None = None) -> None:
    """Evaluate a quantitative result against its limit and record verdict, rule, limit and U on it."""
    analysis = result.analysis
    limit = find_limit(s, analysis.sample.commodity_id, analysis.analyte_id)
    rule_value = DecisionRule(rule or analysis.method.decision_rule or "simple_acceptance")
    u = None
    if value_mg_kg is not None:
        unc = expanded_uncertainty(value_mg_kg)
        u = unc.expanded
        result.expanded_uncertainty = units.from_mg_per_kg(u, result.unit) if units.is_mass_fraction(result.unit) else u
        result.coverage_factor = unc.k
    decision = evaluate(value_mg_kg, u, _as_row(limit, s) if limit else None, rule_value,
                        decision_limit_mg_kg=decision_limit_mg_kg, detected=detected)
    result.limit_id = limit.id if limit else None
    result.decision_rule = str(rule_value)
    result.verdict = decision.verdict.value
    details = dict(result.details or {})
    details["decision"] = {"statement_zh": decision.statement_zh, "statement_en": decision.statement_en,
                           "limit_mg_kg": decision.limit_mg_kg}
    result.details = details
