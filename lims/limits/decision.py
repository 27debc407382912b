"""Conformity decisions against a limit, under a stated decision rule.

ISO/IEC 17025:2017 7.8.6 requires that a statement of conformity names the decision rule
applied and takes the measurement uncertainty into account as the rule says. The rules
offered here follow ILAC-G8:09/2019 ("Guidelines on Decision Rules and Statements of
Conformity") and DOMAIN.md ("Limits and decisions"). Notation: x is the measured value,
U the expanded uncertainty (k = 2, ≈95 % coverage), L the limit (an upper tolerance limit:
"the maximum permitted"), all in mg/kg.

``simple_acceptance`` (ILAC-G8:09/2019 4.2.1, shared risk, guard band w = 0)
    compliant if x ≤ L, non_compliant if x > L. U is not used (it is still reported).
    x == L is compliant: the limit is the maximum permitted value and is not exceeded.

``guard_band`` (ILAC-G8:09/2019 4.2.2, guarded acceptance with w = U)
    The acceptance limit is AL = L − U. compliant if x ≤ L − U (conformity shown with at
    most ≈2.5 % specific risk of false acceptance); compliant_within_uncertainty if
    L − U < x ≤ L (the value is within the limit, but conformity is not shown at the
    required confidence: ILAC-G8's "conditional pass"); non_compliant if x > L.
    Boundaries: x == L − U is compliant; x == L is compliant_within_uncertainty.

``eu_enforcement`` (guarded rejection with w = U; SANTE/11312/2021: "non-compliant only
if x − U > MRL")
    non_compliant if x − U > L (the limit is exceeded beyond reasonable doubt);
    compliant_within_uncertainty if L < x ≤ L + U (the value exceeds the limit, but not by
    more than U: ILAC-G8's "conditional fail", not enforceable); compliant if x ≤ L.
    Boundaries: x == L is compliant; x − U == L is compliant_within_uncertainty (the
    inequality is strict).

Banned substances (MARA announcement No. 250) have no limit value: the verdict is
banned_substance_detected when the substance is detected at or above the method's decision limit
CCα (when a value and a decision limit are given, value ≥ decision limit); not detected,
or a value below the decision limit, is compliant. A result with no applicable limit (no
limit row, or a row of type ``none`` or ``MRPL``) is not_evaluated.

Comparisons treat numbers that differ by less than 1e-9 relative as equal, so that the
same quantity reached through different float paths (e.g. 100 µg/kg vs 0.1 mg/kg, or
L + U computed) falls on the documented side of each boundary; 1e-9 is far below any
reportable digit (results are reported to 2–3 significant figures, SANTE/11312/2021).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lims.limits.csv_import import LimitRow, LimitType
from lims.vocabulary import Verdict  # re-exported: one Verdict for decisions, results and reports

__all__ = [
    "Decision",
    "DecisionInputError",
    "DecisionRule",
    "REL_TOLERANCE",
    "SANTE_DEFAULT_RELATIVE_U",
    "Verdict",
    "evaluate",
]

# Default expanded measurement uncertainty for pesticide residues when the laboratory has
# no own estimate: 50 % of the result (SANTE/11312/2021, section G, default U).
SANTE_DEFAULT_RELATIVE_U = 0.50

REL_TOLERANCE = 1e-9


class DecisionRule(StrEnum):
    """The decision rule stated on the report (ISO/IEC 17025:2017 7.8.6.2)."""

    SIMPLE_ACCEPTANCE = "simple_acceptance"
    GUARD_BAND = "guard_band"
    EU_ENFORCEMENT = "eu_enforcement"


class DecisionInputError(ValueError):
    """An input to ``evaluate`` is unusable; the message names the argument."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Decision:
    """A conformity decision with the rule applied and the report wording (zh-CN and English)."""

    verdict: Verdict
    rule: DecisionRule
    limit: LimitRow | None
    value_mg_kg: float | None
    expanded_uncertainty_mg_kg: float | None
    limit_mg_kg: float | None
    statement_zh: str
    statement_en: str


_RULE_ZH = {
    DecisionRule.SIMPLE_ACCEPTANCE: "简单接受规则（ILAC-G8:09/2019 4.2.1，保护带 w = 0）",
    DecisionRule.GUARD_BAND: "保护带规则（ILAC-G8:09/2019 4.2.2，保护带 w = U，接受限 = 限量 − U）",
    DecisionRule.EU_ENFORCEMENT: "执法判定规则（仅当 x − U > 限量时判为不合格，SANTE/11312/2021）",
}
_RULE_EN = {
    DecisionRule.SIMPLE_ACCEPTANCE: "simple acceptance (ILAC-G8:09/2019 4.2.1, guard band w = 0)",
    DecisionRule.GUARD_BAND: (
        "guarded acceptance (ILAC-G8:09/2019 4.2.2, guard band w = U, acceptance limit = limit − U)"
    ),
    DecisionRule.EU_ENFORCEMENT: "enforcement rule (non-compliant only if x − U > limit, SANTE/11312/2021)",
}
#: The verdict as worded inside a conformity statement (the UI's short labels are on Verdict itself).
_VERDICT_ZH = {
    Verdict.COMPLIANT: "符合（合格）",
    Verdict.NON_COMPLIANT: "不符合（不合格）",
    Verdict.COMPLIANT_WITHIN_UNCERTAINTY: "在测量不确定度范围内符合",
    Verdict.NOT_EVALUATED: "未判定",
    Verdict.BANNED_SUBSTANCE_DETECTED: "检出禁用物质（不合格）",
}
_VERDICT_EN = {
    Verdict.COMPLIANT: "compliant",
    Verdict.NON_COMPLIANT: "non-compliant",
    Verdict.COMPLIANT_WITHIN_UNCERTAINTY: "compliant within measurement uncertainty",
    Verdict.NOT_EVALUATED: "not evaluated",
    Verdict.BANNED_SUBSTANCE_DETECTED: "banned substance detected (non-compliant)",
}


def _cmp(a: float, b: float) -> int:
    """-1, 0 or 1 as a <, ≈, > b, with numbers within REL_TOLERANCE (relative) equal."""
    if math.isclose(a, b, rel_tol=REL_TOLERANCE, abs_tol=0.0):
        return 0
    return -1 if a < b else 1


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _check_number(field: str, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecisionInputError(field, f"not a number: {value!r}")
    if not math.isfinite(value):
        raise DecisionInputError(field, f"not a finite number: {value!r}")
    if value < 0:
        raise DecisionInputError(field, f"must not be negative, got {value!r}")


def _source(limit: LimitRow) -> tuple[str, str]:
    return (
        f"{limit.source_standard}（{limit.source_clause}）",
        f"{limit.source_standard} ({limit.source_clause})",
    )


def evaluate(
    value_mg_kg: float | None,
    expanded_uncertainty_mg_kg: float | None,
    limit: LimitRow | None,
    rule: DecisionRule,
    *,
    decision_limit_mg_kg: float | None = None,
    detected: bool = True,
) -> Decision:
    """Judge one result against its limit under ``rule`` (see the module docstring).

    ``value_mg_kg`` is the result in mg/kg, or None when there is no quantitative value
    (e.g. not detected, or a qualitative screening result). ``detected`` says whether the
    analyte was detected at all. ``decision_limit_mg_kg`` is the method's decision limit
    CCα, used for banned substances. Raises ``DecisionInputError`` for negative or
    non-finite numbers, and when ``guard_band`` or ``eu_enforcement`` needs U but none is given.
    """
    if not isinstance(rule, DecisionRule):
        raise DecisionInputError("rule", f"not a DecisionRule: {rule!r}")
    _check_number("value_mg_kg", value_mg_kg)
    _check_number("expanded_uncertainty_mg_kg", expanded_uncertainty_mg_kg)
    _check_number("decision_limit_mg_kg", decision_limit_mg_kg)

    def decide(verdict: Verdict, limit_mg_kg: float | None, zh: str, en: str) -> Decision:
        return Decision(
            verdict=verdict,
            rule=rule,
            limit=limit,
            value_mg_kg=value_mg_kg,
            expanded_uncertainty_mg_kg=expanded_uncertainty_mg_kg,
            limit_mg_kg=limit_mg_kg,
            statement_zh=zh,
            statement_en=en,
        )

    if limit is None:
        return decide(
            Verdict.NOT_EVALUATED,
            None,
            "无适用限量，未作符合性判定。",
            "No applicable limit; conformity not evaluated.",
        )
    src_zh, src_en = _source(limit)
    if limit.limit_type is LimitType.BANNED:
        return _evaluate_banned(value_mg_kg, decision_limit_mg_kg, detected, limit, src_zh, src_en, decide)
    if limit.limit_type in (LimitType.NONE, LimitType.MRPL):
        return _no_maximum_limit(limit, src_zh, src_en, decide)
    return _evaluate_mrl(value_mg_kg, expanded_uncertainty_mg_kg, limit, rule, detected, decide)


_Decide = Callable[[Verdict, float | None, str, str], Decision]


def _no_maximum_limit(limit: LimitRow, src_zh: str, src_en: str, decide: _Decide) -> Decision:
    """A limit row of type ``none`` or ``MRPL``: no conformity decision."""
    analyte_en = limit.analyte_en or limit.analyte_zh
    commodity_en = limit.commodity_en or limit.commodity_zh
    return decide(
        Verdict.NOT_EVALUATED,
        None,
        f"{limit.commodity_zh}中{limit.analyte_zh}无最大残留限量（{src_zh}），未作符合性判定。",
        f"No maximum residue limit for {analyte_en} in {commodity_en} ({src_en}); "
        "conformity not evaluated.",
    )


def _evaluate_mrl(
    value_mg_kg: float | None,
    u: float | None,
    limit: LimitRow,
    rule: DecisionRule,
    detected: bool,
    decide: _Decide,
) -> Decision:
    """A maximum residue limit (MRL/EMRL) under ``rule``."""
    src_zh, src_en = _source(limit)
    analyte_en = limit.analyte_en or limit.analyte_zh
    limit_mg_kg = limit.limit_mg_kg
    assert limit_mg_kg is not None  # LimitRow of type MRL/EMRL always carries a value and unit
    limit_zh = f"限量 {_fmt(limit_mg_kg)} mg/kg（{src_zh}）"
    limit_en = f"limit {_fmt(limit_mg_kg)} mg/kg ({src_en})"

    if value_mg_kg is None:
        if detected:
            return decide(
                Verdict.NOT_EVALUATED,
                limit_mg_kg,
                f"{limit.analyte_zh}有检出但无定量结果，未作符合性判定；{limit_zh}。",
                f"{analyte_en} detected without a quantitative result; conformity not evaluated; {limit_en}.",
            )
        return decide(
            Verdict.COMPLIANT,
            limit_mg_kg,
            f"{limit.analyte_zh}未检出，{limit_zh}，判定：{_VERDICT_ZH[Verdict.COMPLIANT]}。"
            f"判定规则：{_RULE_ZH[rule]}。",
            f"{analyte_en} not detected; {limit_en}; verdict: compliant. Decision rule: {_RULE_EN[rule]}.",
        )

    if rule is not DecisionRule.SIMPLE_ACCEPTANCE and u is None:
        raise DecisionInputError(
            "expanded_uncertainty_mg_kg",
            f"required by the {rule.value} rule (SANTE/11312/2021 default: "
            f"{SANTE_DEFAULT_RELATIVE_U:.0%} of the result)",
        )
    verdict = _apply_rule(rule, value_mg_kg, u, limit_mg_kg)
    u_zh = "" if u is None else f"，扩展不确定度 U = {_fmt(u)} mg/kg（k = 2）"
    u_en = "" if u is None else f", expanded uncertainty U = {_fmt(u)} mg/kg (k = 2)"
    return decide(
        verdict,
        limit_mg_kg,
        f"{limit.analyte_zh}检测值 {_fmt(value_mg_kg)} mg/kg{u_zh}，{limit_zh}，"
        f"判定：{_VERDICT_ZH[verdict]}。判定规则：{_RULE_ZH[rule]}。",
        f"{analyte_en}: measured {_fmt(value_mg_kg)} mg/kg{u_en}; {limit_en}; "
        f"verdict: {_VERDICT_EN[verdict]}. Decision rule: {_RULE_EN[rule]}.",
    )


def _apply_rule(rule: DecisionRule, x: float, u: float | None, limit: float) -> Verdict:
    """The three rules' zones; boundaries as documented in the module docstring."""
    if rule is DecisionRule.SIMPLE_ACCEPTANCE:
        return Verdict.COMPLIANT if _cmp(x, limit) <= 0 else Verdict.NON_COMPLIANT
    assert u is not None
    if rule is DecisionRule.GUARD_BAND:
        if _cmp(x, limit - u) <= 0:
            return Verdict.COMPLIANT
        if _cmp(x, limit) <= 0:
            return Verdict.COMPLIANT_WITHIN_UNCERTAINTY
        return Verdict.NON_COMPLIANT
    # EU enforcement: non-compliant only when x − U > L, i.e. x > L + U.
    if _cmp(x, limit) <= 0:
        return Verdict.COMPLIANT
    if _cmp(x - u, limit) <= 0:
        return Verdict.COMPLIANT_WITHIN_UNCERTAINTY
    return Verdict.NON_COMPLIANT


def _evaluate_banned(
    value_mg_kg: float | None,
    decision_limit_mg_kg: float | None,
    detected: bool,
    limit: LimitRow,
    src_zh: str,
    src_en: str,
    decide: _Decide,
) -> Decision:
    """Banned substance: banned_substance_detected when detected at or above the decision limit CCα."""
    analyte_en = limit.analyte_en or limit.analyte_zh
    below_ccalpha = (
        detected
        and value_mg_kg is not None
        and decision_limit_mg_kg is not None
        and _cmp(value_mg_kg, decision_limit_mg_kg) < 0
    )
    if below_ccalpha:
        detected = False
    ccalpha_zh = (
        "" if decision_limit_mg_kg is None else f"（判定限 CCα = {_fmt(decision_limit_mg_kg)} mg/kg）"
    )
    ccalpha_en = (
        "" if decision_limit_mg_kg is None else f" (decision limit CCα = {_fmt(decision_limit_mg_kg)} mg/kg)"
    )
    value_zh = "" if value_mg_kg is None else f"，检测值 {_fmt(value_mg_kg)} mg/kg"
    value_en = "" if value_mg_kg is None else f", measured {_fmt(value_mg_kg)} mg/kg"
    if detected:
        return decide(
            Verdict.BANNED_SUBSTANCE_DETECTED,
            None,
            f"{limit.analyte_zh}为禁用物质（{src_zh}），检出{ccalpha_zh}{value_zh}，"
            f"判定：{_VERDICT_ZH[Verdict.BANNED_SUBSTANCE_DETECTED]}。",
            f"{analyte_en} is a prohibited substance ({src_en}); detected{ccalpha_en}{value_en}; "
            f"verdict: {_VERDICT_EN[Verdict.BANNED_SUBSTANCE_DETECTED]}.",
        )
    if below_ccalpha:
        outcome_zh, outcome_en = "低于判定限，视为未检出", "below the decision limit, taken as not detected"
    else:
        outcome_zh, outcome_en = "未检出", "not detected"
    return decide(
        Verdict.COMPLIANT,
        None,
        f"{limit.analyte_zh}为禁用物质（{src_zh}）{value_zh}，{outcome_zh}{ccalpha_zh}，"
        f"判定：{_VERDICT_ZH[Verdict.COMPLIANT]}。",
        f"{analyte_en} is a prohibited substance ({src_en}){value_en}; {outcome_en}{ccalpha_en}; "
        "verdict: compliant.",
    )
