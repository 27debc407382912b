"""No silent 未判定: a result without an applicable limit needs the approver's explicit judgement.

A result whose limit check is flagged 无限量标准 (``details["limit_check"]["flag"] == "no_limit"``), or a
confirmatory result left 未判定 without any limit check, cannot be approved until its approver records a
:class:`~lims.limits.judgement.LimitJudgement`. The judgement is written on the result itself (verdict,
decision statement, ``limit_check.judgement`` with who and when) before the approval signature, so the
signature's record hash binds it and the audit trail keeps the change (old → new, actor, reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lims import units
from lims.clock import utcnow
from lims.db.models import Result, User
from lims.limits import DecisionRule, LimitRow, LimitType, evaluate
from lims.limits.judgement import JudgementError, LimitJudgement
from lims.services.errors import Conflict, InvalidInput, NotFound
from lims.vocabulary import AnalysisKind, LimitFlag, LimitJudgementKind, ResultStatus, Role, Verdict

__all__ = ["apply_judgement", "judge_result", "judgement_from", "needs_judgement", "unjudged"]


def judgement_from(fields: Mapping[str, Any]) -> LimitJudgement:
    """A judgement from request fields; an incomplete one is InvalidInput naming the field."""
    try:
        return LimitJudgement(**{k: v for k, v in fields.items() if v is not None})
    except JudgementError as e:
        raise InvalidInput(str(e), field=e.field, code="limits.judgement_incomplete") from None
    except TypeError as e:
        raise InvalidInput(str(e), field="judgement", code="limits.judgement_incomplete") from None


def needs_judgement(result: Result) -> bool:
    """True when the result may not be approved before its approver judges it explicitly."""
    if result.analysis.kind == AnalysisKind.SCREENING:
        return False  # a screening call is never a conformity decision
    check = (result.details or {}).get("limit_check")
    if check is None:
        return str(result.verdict) == Verdict.NOT_EVALUATED
    return check.get("flag") == LimitFlag.NO_LIMIT and not check.get("judgement")


def unjudged(results: list[Result], given: Mapping[int, LimitJudgement]) -> list[int]:
    """Ids of the results that need a judgement and were given none."""
    for rid in given:
        if rid not in {r.id for r in results}:
            raise InvalidInput(f"a judgement was given for result {rid}, which is not being approved",
                               field="judgements", code="limits.judgement_not_applicable")
    for r in results:
        if r.id in given and not needs_judgement(r):
            raise InvalidInput(f"result {r.id} has an applicable limit (or is already judged); no judgement is "
                               "taken for it", field="judgements", code="limits.judgement_not_applicable")
    return [r.id for r in results if needs_judgement(r) and r.id not in given]


def _value_mg_kg(result: Result) -> float | None:
    if result.value is None:
        return None
    return units.to_mg_per_kg(result.value, result.unit) if units.is_mass_fraction(result.unit) else None


def apply_judgement(s: Session, result: Result, judgement: LimitJudgement, approver: User) -> None:
    """Record the approver's judgement on the result (before it is signed): verdict and statement, and
    ``limit_check.judgement`` with the approver's name and the time."""
    if result.status not in (ResultStatus.TO_BE_REVIEWED, ResultStatus.REVIEWED):
        raise Conflict(f"result {result.id} is {result.status}; a judgement is recorded before approval",
                       field="result_id", code="result.not_reviewed")
    if not needs_judgement(result):
        raise InvalidInput(f"result {result.id} has an applicable limit (or is already judged)",
                           field="judgements", code="limits.judgement_not_applicable")
    details = dict(result.details or {})
    check = dict(details.get("limit_check") or {"flag": str(LimitFlag.NO_LIMIT), "banned": False})
    analyte = result.analysis.analyte
    if judgement.kind is LimitJudgementKind.NO_LIMIT_APPLIES:
        verdict = Verdict.NOT_EVALUATED
        zh = f"无限量标准：批准人{approver.full_name}判定不适用限量，不作符合性判定（理由：{judgement.reason}）。"
        en = (f"No applicable limit: the approver {approver.full_name} judged that no limit applies; conformity "
              f"not evaluated (reason: {judgement.reason}).")
    else:
        row = LimitRow(line=0, commodity_zh=result.analysis.sample.commodity.name_zh, commodity_en="",
                       commodity_category="", analyte_zh=analyte.name_zh, analyte_en=analyte.name_en, cas="",
                       residue_definition=analyte.name_zh, limit_type=LimitType.MRL,
                       limit_value=judgement.value_mg_kg, unit="mg/kg",
                       source_standard=judgement.standard or judgement.source,
                       source_clause=judgement.clause or judgement.source, notes="")
        value = _value_mg_kg(result)
        u = None if result.expanded_uncertainty is None or value is None else \
            units.to_mg_per_kg(result.expanded_uncertainty, result.unit)
        rule = DecisionRule(result.decision_rule or "simple_acceptance")
        decision = evaluate(value, u, row, rule if u is not None else DecisionRule.SIMPLE_ACCEPTANCE,
                            detected=value is not None)
        verdict = decision.verdict
        zh = f"{decision.statement_zh}（限量表无该项限量，批准人{approver.full_name}判定依据：{judgement.source_text}）"
        en = f"{decision.statement_en} (no limit in the table; basis judged by the approver " \
             f"{approver.full_name}: {judgement.source_text})"
    check["judgement"] = {**judgement.as_dict(), "by": approver.full_name, "by_username": approver.username,
                          "at": utcnow().isoformat(timespec="seconds")}
    details["limit_check"] = check
    details["decision"] = {**(details.get("decision") or {}), "statement_zh": zh, "statement_en": en,
                           "limit_mg_kg": judgement.value_mg_kg}
    result.details = details
    result.verdict = verdict.value


def judge_result(s: Session, result_id: int, judgement: LimitJudgement, *, username: str,
                 password: str) -> Result:
    """The approver records a judgement ahead of approval (re-entering the password, as for a signature)."""
    from lims.services.signoff import authenticate_signer

    approver = authenticate_signer(s, username, password, Role.APPROVER)
    result = s.get(Result, result_id)
    if result is None:
        raise NotFound(f"result {result_id} does not exist", field="result_id")
    apply_judgement(s, result, judgement, approver)
    s.flush()
    return result
