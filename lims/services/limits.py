"""The MRL table in the database: the commodity classification, import (starter table or a lab-maintained
CSV, every rejected row reported), the lookup by commodity × analyte through the classification (the
commodity's own limit over its subgroup's over its group's; a ban whatever the table says), and the
conformity decision recorded on a result with what a person must see about its limit.

Why the classification is seeded from the packaged file rather than by a data migration: group rows
must be database rows (a limit row names its group by foreign key, and a lab adds its own commodities
under a group), while the classification itself is data that a lab or a new edition corrects; seeding
is idempotent and runs on ``lims db upgrade``, ``lims lab init``, the demo and every limit import, so
a corrected file is applied without a schema change (and test databases truncated between tests are
seeded by the code that needs them).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import units
from lims.clock import as_utc, utcnow
from lims.db.models import Analyte, Commodity, Limit
from lims.limits import (
    DecisionRule,
    ImportReport,
    LimitRow,
    LimitType,
    RejectedRow,
    evaluate,
    load_starter_table,
)
from lims.limits.classification import CommodityClass, Match, choose, load_classification
from lims.limits.csv_import import validate_row
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.services.lookup import code_exists
from lims.services.uncertainty import result_uncertainty
from lims.vocabulary import CommodityLevel, LimitFlag, MatchedVia, Verdict

__all__ = [
    "LimitFinding",
    "LimitImport",
    "ensure_classification",
    "find",
    "find_for",
    "find_limit",
    "import_limits",
    "import_starter_table",
    "resolve_analyte",
    "resolve_commodity",
    "limit_form",
    "save_limit",
]


@dataclass(frozen=True)
class LimitImport:
    inserted: int
    skipped_existing: int
    rejected: tuple[RejectedRow, ...]
    new_commodities: tuple[str, ...] = ()


def _fold(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _code(text: str) -> str:
    code = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").upper()
    return code[:60] or "X"


# ------------------------------------------------------------------------------------ classification


class _Commodities:
    """Every commodity of the database by id and by each of its names (the table is small: hundreds)."""

    def __init__(self, s: Session) -> None:
        self.by_id: dict[int, Commodity] = {c.id: c for c in s.execute(select(Commodity)).scalars()}
        self.by_name: dict[str, list[Commodity]] = {}
        for c in self.by_id.values():
            self.add(c)

    def add(self, c: Commodity) -> None:
        names = {c.code, c.name_zh, c.name_en, *(c.aliases or "").split("|")}
        for name in {_fold(n) for n in names if n and n.strip()}:
            bucket = self.by_name.setdefault(name, [])
            if c not in bucket:
                bucket.append(c)

    def named(self, name: str) -> list[Commodity]:
        return list(self.by_name.get(_fold(name), []))

    def chain(self, c: Commodity) -> list[Commodity]:
        """The commodity, its parent, … up to its group (a cycle in hand-edited data stops the walk)."""
        out = [c]
        while out[-1].parent_id is not None and len(out) < 20:
            parent = self.by_id.get(out[-1].parent_id)
            if parent is None or parent in out:
                break
            out.append(parent)
        return out


def ensure_classification(s: Session) -> int:
    """Seed the packaged classification (idempotent): a node missing from the database is added; an
    existing commodity of the same code (or, failing that, the same Chinese name) is placed under its
    parent. A commodity the lab placed itself keeps its place. Returns the number of nodes added."""
    index = _Commodities(s)
    by_code = {c.code: c for c in index.by_id.values()}
    added = 0
    for node in load_classification():
        c = by_code.get(node.code) or next((x for x in index.named(node.name_zh) if x.name_zh == node.name_zh), None)
        parent = by_code.get(node.parent_code) if node.parent_code else None
        if c is None:
            category = "" if parent is None else "/".join(p for p in (parent.category, parent.name_zh) if p)
            c = Commodity(code=node.code, name_zh=node.name_zh, name_en=node.name_en, category=category)
            s.add(c)
            added += 1
        _place(s, c, node, parent)
        by_code[c.code] = c
    s.flush()
    return added


def _place(s: Session, c: Commodity, node: CommodityClass, parent: Commodity | None) -> None:
    """Put ``c`` under ``parent`` (unless placed already), with the node's level and aliases; a node of the
    packaged file takes the file's names (a renamed group keeps its former name as an alias)."""
    former = [n for n in (c.name_zh, c.name_en) if c.code == node.code and n not in (node.name_zh, node.name_en)]
    if former:
        c.name_zh, c.name_en = node.name_zh, node.name_en
    if c.parent_id is None and parent is not None:
        if parent.id is None:
            s.flush()
        c.parent_id = parent.id
    if c.level != node.kind.value and c.level in (None, "", CommodityLevel.COMMODITY):
        c.level = node.kind.value
    aliases = "|".join(a for a in dict.fromkeys([*(c.aliases or "").split("|"), *node.aliases, *former]) if a)
    if aliases != (c.aliases or ""):
        c.aliases = aliases


def _resolve(candidates: list[Any], name: str, what: str) -> Any:
    """The one candidate; none → ``limits.unknown_name``, several → ``limits.ambiguous_name`` (field = what)."""
    if not candidates:
        raise InvalidInput(f"unknown {what} {name!r}", field=what, code="limits.unknown_name")
    if len(candidates) > 1:
        codes = ", ".join(sorted(c.code for c in candidates))
        raise InvalidInput(f"{what} {name!r} is ambiguous: {codes}; name it by its code", field=what,
                           code="limits.ambiguous_name")
    return candidates[0]


def resolve_commodity(s: Session, name: str) -> Commodity:
    """The commodity (or group) named by its code, Chinese or English name, or an alias."""
    found: Commodity = _resolve(_Commodities(s).named(name), name, "commodity")
    return found


def resolve_analyte(s: Session, name: str) -> Analyte:
    """The analyte named by its code, Chinese or English name, or CAS number."""
    key = _fold(name)
    hits = [a for a in s.execute(select(Analyte)).scalars()
            if key in {_fold(a.code), _fold(a.name_zh), _fold(a.name_en), _fold(a.cas or "")} - {""}]
    found: Analyte = _resolve(hits, name, "analyte")
    return found


# ------------------------------------------------------------------------------------ import


def _analyte(s: Session, row: LimitRow) -> Analyte:
    found = s.execute(select(Analyte).where(Analyte.name_zh == row.analyte_zh)).scalars().first() or \
        s.execute(select(Analyte).where(Analyte.code == _code(row.analyte_en or row.analyte_zh))).scalars().first()
    if found is None:
        kind = ("banned" if row.limit_type == LimitType.BANNED
                else "vet_drug" if row.source_standard.startswith("GB 31650") else "pesticide")
        found = Analyte(code=_code(row.analyte_en or row.analyte_zh), name_zh=row.analyte_zh,
                        name_en=row.analyte_en or row.analyte_zh, cas=row.cas, kind=kind)
        s.add(found)
        s.flush()
    return found


def _commodity(s: Session, row: LimitRow, index: _Commodities, new: list[str]) -> Commodity:
    """The row's commodity or group by name or alias; one not classified yet is added under the deepest
    group its ``commodity_category`` path names (and listed in the import's ``new_commodities``)."""
    exact = [c for c in index.named(row.commodity_zh)]
    if exact:
        return exact[0]
    parent = None
    for segment in reversed([p for p in row.commodity_category.split("/") if p.strip()]):
        hits = index.named(segment)
        if hits:
            parent = hits[0]
            break
    code = _code(row.commodity_en or row.commodity_zh)
    if code_exists(s, Commodity, code):
        code = f"{code}-{len(index.by_id) + 1}"
    found = Commodity(code=code, name_zh=row.commodity_zh, name_en=row.commodity_en or row.commodity_zh,
                      category=row.commodity_category, parent_id=parent.id if parent else None)
    s.add(found)
    s.flush()
    index.by_id[found.id] = found
    index.add(found)
    new.append(row.commodity_zh)
    return found


def import_limits(s: Session, report: ImportReport) -> LimitImport:
    """Store the accepted rows (idempotent: an identical limit is not stored twice; a row already stored
    takes the ``verified`` mark and dates of the new file)."""
    ensure_classification(s)
    index = _Commodities(s)
    inserted = skipped = 0
    new: list[str] = []
    for row in report.accepted:
        commodity = _commodity(s, row, index, new)
        analyte = _analyte(s, row)
        existing = s.execute(select(Limit).where(
            Limit.commodity_id == commodity.id, Limit.analyte_id == analyte.id,
            Limit.residue_definition == row.residue_definition, Limit.source_standard == row.source_standard)
        ).scalars().first()
        if existing is not None:
            skipped += 1
            if (existing.verified, existing.valid_from, existing.valid_until) != \
                    (row.verified, row.valid_from, row.valid_until):
                existing.verified, existing.valid_from, existing.valid_until = \
                    row.verified, row.valid_from, row.valid_until
            continue
        s.add(Limit(commodity_id=commodity.id, analyte_id=analyte.id, residue_definition=row.residue_definition,
                    limit_type=str(row.limit_type), value_mg_kg=row.limit_mg_kg, unit=row.unit or "mg/kg",
                    source_standard=row.source_standard, source_clause=row.source_clause,
                    verified=row.verified, valid_from=row.valid_from, valid_until=row.valid_until))
        inserted += 1
    s.flush()
    return LimitImport(inserted, skipped, report.rejected, tuple(new))


def import_starter_table(s: Session) -> LimitImport:
    return import_limits(s, load_starter_table())


# ------------------------------------------------------------------------------------ one row by hand

#: The columns a single row is edited by (the CSV's, :data:`lims.limits.ALL_COLUMNS`, less the commodity's
#: category and the notes, which the table does not store).
ROW_FIELDS = ("commodity_zh", "commodity_en", "analyte_zh", "analyte_en", "cas", "residue_definition", "limit_type",
              "limit_value", "unit", "source_standard", "source_clause", "verified", "valid_from", "valid_until")
#: Shortest reason accepted for a change of the table (it goes into the audit trail with the change).
MIN_REASON = 5


def limit_form(s: Session, limit_id: int) -> dict[str, str]:
    """A stored row as the form shows it: column → text, the value in the row's own unit."""
    x = s.get(Limit, limit_id)
    if x is None:
        raise NotFound(f"limit {limit_id} not found", field="limit_id")
    c, a = (s.get(Commodity, x.commodity_id) if x.commodity_id else None), s.get(Analyte, x.analyte_id)
    value = "" if x.value_mg_kg is None else f"{units.from_mg_per_kg(x.value_mg_kg, x.unit):g}"
    return {"commodity_zh": c.name_zh if c else "", "commodity_en": c.name_en if c else "",
            "analyte_zh": a.name_zh if a else "", "analyte_en": a.name_en if a else "", "cas": (a.cas or "") if a else "",
            "residue_definition": x.residue_definition, "limit_type": x.limit_type, "limit_value": value,
            "unit": x.unit if x.value_mg_kg is not None else "", "source_standard": x.source_standard,
            "source_clause": x.source_clause, "verified": "yes" if x.verified else "no",
            "valid_from": x.valid_from.isoformat() if x.valid_from else "",
            "valid_until": x.valid_until.isoformat() if x.valid_until else ""}


def _refused(problem: RejectedRow) -> InvalidInput:
    """A row's first problem (:func:`lims.limits.csv_import.validate_row` names the field and says why in
    English) as the refusal with its stable code (the page shows the code's Chinese with the field's name)."""
    field, why = problem.field, problem.reason
    if why.startswith("value is missing"):
        return InvalidInput(why, field=field, code="ui.field_required")
    if field in ("valid_from", "valid_until"):
        return InvalidInput(why, field=field, code="quality.dates_out_of_order" if "before" in why else "ui.bad_date")
    if field == "limit_value":
        return InvalidInput(why, field=field, code="quality.bad_value")
    return InvalidInput(why, field=field, code="quality.unknown_value")


def save_limit(s: Session, values: dict[str, str], *, reason: str, limit_id: int | None = None) -> Limit:
    """Add one limit row (``limit_id`` None) or change row ``limit_id``, checked by the rules of the CSV import
    (:func:`lims.limits.csv_import.validate_row`: the first problem refused naming its field). A changed row keeps
    its commodity and analyte (a different pair is a new row). ``reason`` (at least :data:`MIN_REASON`
    characters) goes into the audit trail with the change; a row that would repeat another (same commodity,
    analyte, residue definition and standard) is refused."""
    why = " ".join(str(reason or "").split())
    if len(why) < MIN_REASON:
        raise InvalidInput(f"a reason of at least {MIN_REASON} characters is required", field="reason",
                           code="ui.field_required")
    row = s.get(Limit, limit_id) if limit_id is not None else None
    if limit_id is not None and row is None:
        raise NotFound(f"limit {limit_id} not found", field="limit_id")
    given = {k: str(values.get(k) or "") for k in ROW_FIELDS}
    if row is not None:  # the pair stays; the names are the stored ones
        given.update({k: v for k, v in limit_form(s, row.id).items() if k in ("commodity_zh", "commodity_en",
                                                                             "analyte_zh", "analyte_en", "cas")})
    checked = validate_row(given)
    if isinstance(checked, RejectedRow):
        raise _refused(checked)
    s.info["reason"] = f"limit {'row ' + str(limit_id) if row else 'added'}: {why}"
    ensure_classification(s)
    if row is None:
        row = Limit(commodity_id=_commodity(s, checked, _Commodities(s), []).id, analyte_id=_analyte(s, checked).id)
    _same_as_another(s, row, checked)
    row.residue_definition, row.limit_type = checked.residue_definition, str(checked.limit_type)
    row.value_mg_kg, row.unit = checked.limit_mg_kg, checked.unit or "mg/kg"
    row.source_standard, row.source_clause = checked.source_standard, checked.source_clause
    row.verified, row.valid_from, row.valid_until = checked.verified, checked.valid_from, checked.valid_until
    s.add(row)
    s.flush()
    return row


def _same_as_another(s: Session, row: Limit, checked: LimitRow) -> None:
    other = s.execute(select(Limit.id).where(
        Limit.commodity_id == row.commodity_id, Limit.analyte_id == row.analyte_id,
        Limit.residue_definition == checked.residue_definition, Limit.source_standard == checked.source_standard,
        Limit.id != (row.id or 0))).first()
    if other is not None:
        raise Conflict(f"limit {other[0]} already states this commodity, analyte, residue definition and standard",
                       field="source_standard", code="limits.duplicate_row")


# ------------------------------------------------------------------------------------ lookup


@dataclass(frozen=True)
class LimitFinding:
    """The answer of a lookup: the row a result of ``analyte`` in ``commodity`` is judged against (or
    none), which node of the classification it was set for, and why."""

    commodity: Commodity
    analyte: Analyte
    on: dt.date | None
    group_path: tuple[str, ...]  # the commodity's groups, top-down (e.g. 蔬菜, 豆类蔬菜)
    limit: Limit | None
    row_commodity: Commodity | None  # the commodity or group the row is set for
    matched_via: MatchedVia | None
    banned: bool

    @property
    def flag(self) -> LimitFlag:
        if self.banned:
            return LimitFlag.BANNED
        if self.limit is None or self.limit.value_mg_kg is None:
            return LimitFlag.NO_LIMIT
        return LimitFlag.VERIFIED if self.limit.verified else LimitFlag.UNVERIFIED

    def reason(self, lang: str = "zh-CN") -> str:
        """Why this row (or why none), in words."""
        en = lang == "en"
        c = self.commodity.name_en if en else self.commodity.name_zh
        if self.limit is None or self.row_commodity is None:
            return (f"no limit for {self.analyte.name_en} in {c} or any of its groups" if en
                    else f"{c}及其所属类别均无{self.analyte.name_zh}的限量")
        row = self.row_commodity.name_en if en else self.row_commodity.name_zh
        if self.banned:
            return (f"{self.analyte.name_en} is prohibited for {row} ({self.limit.source_standard})" if en
                    else f"{self.analyte.name_zh}在{row}中禁用（{self.limit.source_standard}）")
        if self.matched_via is MatchedVia.COMMODITY:
            return f"limit set for {c} itself" if en else f"按{c}本身的限量"
        return (f"no limit set for {c} itself; the limit of its group {row} applies" if en
                else f"{c}本身无限量，按所属类别“{row}”的限量")

    def as_json(self) -> dict[str, Any]:
        """The document of ``lims limits find --json`` and ``GET /api/v1/limits/find`` (CONTRACTS.md)."""
        limit = None
        if self.limit is not None and self.row_commodity is not None:
            x = self.limit
            limit = {"value_mg_kg": x.value_mg_kg, "limit_type": x.limit_type, "commodity": self.row_commodity.name_zh,
                     "matched_via": str(self.matched_via), "group_path": list(self.group_path),
                     "source_standard": x.source_standard, "source_clause": x.source_clause,
                     "verified": bool(x.verified), "limit_id": x.id, "commodity_code": self.row_commodity.code,
                     "limit_value": None if x.value_mg_kg is None else units.from_mg_per_kg(x.value_mg_kg, x.unit),
                     "unit": x.unit, "residue_definition": x.residue_definition,
                     "valid_from": x.valid_from.isoformat() if x.valid_from else None,
                     "valid_until": x.valid_until.isoformat() if x.valid_until else None}
        return {"limit": limit, "banned": self.banned, "flag": str(self.flag),
                "reason_zh": self.reason(), "reason_en": self.reason("en"),
                "commodity": {"code": self.commodity.code, "name_zh": self.commodity.name_zh,
                              "name_en": self.commodity.name_en, "group_path": list(self.group_path)},
                "analyte": {"code": self.analyte.code, "name_zh": self.analyte.name_zh,
                            "name_en": self.analyte.name_en},
                "date": self.on.isoformat() if self.on else None}


def find_for(s: Session, commodity: Commodity, analyte: Analyte, on: dt.date | None = None) -> LimitFinding:
    """The limit of ``analyte`` in ``commodity`` through the classification (rule: module docstring)."""
    index = _Commodities(s)
    chain = index.chain(index.by_id.get(commodity.id, commodity))
    rows = s.execute(select(Limit).where(Limit.analyte_id == analyte.id,
                                         Limit.commodity_id.in_([c.id for c in chain])).order_by(Limit.id)).scalars()
    by_node: dict[int, list[Limit]] = {}
    for row in rows:
        by_node.setdefault(row.commodity_id or 0, []).append(row)
    match: Match[Limit] | None = choose([by_node.get(c.id, []) for c in chain], on)
    path = tuple(c.name_zh for c in reversed(chain[1:]))
    if match is None:
        return LimitFinding(commodity, analyte, on, path, None, None, None, False)
    return LimitFinding(commodity, analyte, on, path, match.row, chain[match.depth], match.matched_via,
                        match.banned)


def find(s: Session, commodity: str, analyte: str, on: dt.date | None = None) -> LimitFinding:
    """``lims limits find``: names (Chinese, English, alias or code) → the finding; unknown or ambiguous
    names are InvalidInput naming the field (``limits.unknown_name``, ``limits.ambiguous_name``)."""
    return find_for(s, resolve_commodity(s, commodity), resolve_analyte(s, analyte), on or utcnow().date())


def find_limit(s: Session, commodity_id: int, analyte_id: int, on: dt.date | None = None) -> Limit | None:
    """The limit row a result is judged against (see :func:`find_for`), or None."""
    commodity, analyte = s.get(Commodity, commodity_id), s.get(Analyte, analyte_id)
    if commodity is None or analyte is None:
        return None
    return find_for(s, commodity, analyte, on).limit


def sampled_on(sampled_at: dt.datetime | None) -> dt.date:
    """The date a result's limit is looked up for: the day the sample was taken (China time)."""
    when = as_utc(sampled_at) if sampled_at is not None else utcnow()
    return (when + dt.timedelta(hours=8)).date()


# ------------------------------------------------------------------------------------ decisions


def _as_row(limit: Limit, commodity: Commodity | None, analyte: Analyte) -> LimitRow:
    return LimitRow(line=0, commodity_zh=commodity.name_zh if commodity else "所有", commodity_en=commodity.name_en
                    if commodity else "", commodity_category="", analyte_zh=analyte.name_zh,
                    analyte_en=analyte.name_en, cas=analyte.cas, residue_definition=limit.residue_definition,
                    limit_type=LimitType(limit.limit_type), limit_value=limit.value_mg_kg,
                    unit="mg/kg" if limit.value_mg_kg is not None else None, source_standard=limit.source_standard,
                    source_clause=limit.source_clause, notes="", verified=bool(limit.verified))


def limit_check(finding: LimitFinding, *, detected: bool) -> dict[str, Any]:
    """What is stored on a result (``details["limit_check"]``) about its limit, for the review screen, the
    report's working copy and the approval rule: the row used and why, its ``verified`` mark, the flag."""
    doc = finding.as_json()
    check: dict[str, Any] = {"flag": doc["flag"], "banned": finding.banned, "reason_zh": doc["reason_zh"],
                             "reason_en": doc["reason_en"], "detection": "detected" if detected else "not_detected",
                             "group_path": list(finding.group_path), "judgement": None}
    keys = ("value_mg_kg", "limit_type", "commodity", "commodity_code", "matched_via", "source_standard",
            "source_clause", "verified", "limit_value", "unit", "limit_id")
    check.update({k: (doc["limit"] or {}).get(k) for k in keys})
    return check


def decide_result(s: Session, result: Any, *, value_mg_kg: float | None, detected: bool,
                  rule: str | None = None, decision_limit_mg_kg: float | None = None) -> None:
    """Evaluate a result against the limit that applies on the sampling date, and record on it the verdict,
    the rule, the limit row, U, and ``details["limit_check"]`` (the flag 无限量标准 when there is none)."""
    analysis = result.analysis
    finding = find_for(s, analysis.sample.commodity, analysis.analyte, sampled_on(analysis.sample.sampled_at))
    limit = finding.limit
    rule_value = DecisionRule(rule or analysis.method.decision_rule or "simple_acceptance")
    u = None
    if value_mg_kg is not None:
        unc = result_uncertainty(s, result, value_mg_kg)  # validation / QC history, or the flagged default
        u = unc.expanded
        result.expanded_uncertainty = units.from_mg_per_kg(u, result.unit) if units.is_mass_fraction(result.unit) else u
        result.coverage_factor = unc.k
    decision = evaluate(value_mg_kg, u, _as_row(limit, finding.row_commodity, analysis.analyte) if limit else None,
                        rule_value, decision_limit_mg_kg=decision_limit_mg_kg, detected=detected)
    result.limit_id = limit.id if limit else None
    result.decision_rule = str(rule_value)
    result.verdict = decision.verdict.value
    details = dict(result.details or {})
    details["decision"] = {"statement_zh": decision.statement_zh, "statement_en": decision.statement_en,
                           "limit_mg_kg": decision.limit_mg_kg}
    seen = decision.verdict is Verdict.BANNED_SUBSTANCE_DETECTED if finding.banned else detected
    details["limit_check"] = limit_check(finding, detected=seen)
    result.details = details
