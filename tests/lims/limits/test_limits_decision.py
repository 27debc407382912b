"""Decision-rule truth tables (ILAC-G8:09/2019; SANTE/11312/2021 'x − U > MRL'), boundaries included.

L = 1.0 mg/kg and U = 0.25 mg/kg are exact binary fractions, so each boundary is hit exactly.
"""

from __future__ import annotations

import math

import pytest

from lims.limits import DecisionInputError, DecisionRule, LimitRow, LimitType, Verdict, evaluate

C = Verdict.COMPLIANT
N = Verdict.NON_COMPLIANT
W = Verdict.COMPLIANT_WITHIN_UNCERTAINTY


def limit_row(
    value=1.0, unit="mg/kg", limit_type=LimitType.MRL, analyte_zh="毒死蜱", analyte_en="chlorpyrifos"
):
    return LimitRow(
        line=2,
        commodity_zh="芹菜",
        commodity_en="celery",
        commodity_category="蔬菜/叶菜类蔬菜",
        analyte_zh=analyte_zh,
        analyte_en=analyte_en,
        cas="",
        residue_definition=analyte_zh,
        limit_type=limit_type,
        limit_value=value,
        unit=unit,
        source_standard="GB 2763-2021",
        source_clause="4.121",
        notes="",
    )


U = 0.25
#            x      simple  guard  eu
TABLE = [
    (0.5, C, C, C),  # well below L − U
    (0.75, C, C, C),  # x == L − U: guard band accepts (≤ acceptance limit)
    (0.875, C, W, C),  # L − U < x < L
    (1.0, C, W, C),  # x == L: within the limit
    (1.125, N, N, W),  # L < x < L + U
    (1.25, N, N, W),  # x − U == L: not strictly greater, so not non-compliant under eu
    (1.5, N, N, N),  # x − U > L
]


@pytest.mark.parametrize(("x", "simple", "guard", "eu"), TABLE)
def test_truth_table(x, simple, guard, eu):
    row = limit_row()
    assert evaluate(x, U, row, DecisionRule.SIMPLE_ACCEPTANCE).verdict is simple
    assert evaluate(x, U, row, DecisionRule.GUARD_BAND).verdict is guard
    assert evaluate(x, U, row, DecisionRule.EU_ENFORCEMENT).verdict is eu


def test_simple_acceptance_does_not_need_uncertainty():
    assert evaluate(1.0, None, limit_row(), DecisionRule.SIMPLE_ACCEPTANCE).verdict is C
    assert evaluate(1.01, None, limit_row(), DecisionRule.SIMPLE_ACCEPTANCE).verdict is N


@pytest.mark.parametrize("rule", [DecisionRule.GUARD_BAND, DecisionRule.EU_ENFORCEMENT])
def test_rules_using_uncertainty_require_it(rule):
    with pytest.raises(DecisionInputError, match="expanded_uncertainty_mg_kg.*50%"):
        evaluate(0.5, None, limit_row(), rule)


def test_boundaries_hold_for_decimal_values_reached_through_float_arithmetic():
    # 0.05 − 0.03 is 0.020000000000000004 in binary floating point; it is still "x − U == L",
    # so not non-compliant; likewise 0.3 − 0.1 = 0.19999999999999998 is still "x == L − U".
    assert 0.05 - 0.03 > 0.02 and 0.3 - 0.1 < 0.2
    assert evaluate(0.05, 0.03, limit_row(0.02), DecisionRule.EU_ENFORCEMENT).verdict is W
    assert evaluate(0.2, 0.1, limit_row(0.3), DecisionRule.GUARD_BAND).verdict is C
    assert evaluate(0.03, 0.01, limit_row(0.02), DecisionRule.EU_ENFORCEMENT).verdict is W
    # 100 µg/kg limit against a 0.1 mg/kg result: equal, hence compliant under simple acceptance.
    assert evaluate(0.1, None, limit_row(100, "µg/kg"), DecisionRule.SIMPLE_ACCEPTANCE).verdict is C
    assert evaluate(0.1000001, None, limit_row(100, "µg/kg"), DecisionRule.SIMPLE_ACCEPTANCE).verdict is N


def test_limit_in_micrograms_is_converted():
    decision = evaluate(0.15, 0.02, limit_row(100, "µg/kg"), DecisionRule.EU_ENFORCEMENT)
    assert decision.limit_mg_kg == 0.1
    assert decision.verdict is N  # 0.15 − 0.02 = 0.13 > 0.1


def test_no_limit_or_no_mrl_is_not_evaluated():
    assert evaluate(5.0, 1.0, None, DecisionRule.EU_ENFORCEMENT).verdict is Verdict.NOT_EVALUATED
    none_row = limit_row(None, None, LimitType.NONE)
    decision = evaluate(5.0, 1.0, none_row, DecisionRule.SIMPLE_ACCEPTANCE)
    assert decision.verdict is Verdict.NOT_EVALUATED and decision.limit_mg_kg is None


def test_not_detected_is_compliant_and_detected_without_value_is_not_evaluated():
    assert evaluate(None, None, limit_row(), DecisionRule.GUARD_BAND, detected=False).verdict is C
    assert evaluate(None, None, limit_row(), DecisionRule.GUARD_BAND).verdict is Verdict.NOT_EVALUATED


def banned_row():
    return limit_row(None, None, LimitType.BANNED, analyte_zh="克仑特罗", analyte_en="clenbuterol")


@pytest.mark.parametrize(
    ("value", "detected", "ccalpha", "expected"),
    [
        (None, True, None, Verdict.BANNED_SUBSTANCE_DETECTED),  # qualitative confirmed detection
        (None, False, None, C),  # not detected
        (0.0005, True, 0.0005, Verdict.BANNED_SUBSTANCE_DETECTED),  # at the decision limit
        (0.0006, True, 0.0005, Verdict.BANNED_SUBSTANCE_DETECTED),  # above it
        (0.0004, True, 0.0005, C),  # below CCα: not a detection
        (0.0004, True, None, Verdict.BANNED_SUBSTANCE_DETECTED),  # no CCα given: the detected flag decides
    ],
)
def test_banned_substance(value, detected, ccalpha, expected):
    for rule in DecisionRule:
        decision = evaluate(value, None, banned_row(), rule, decision_limit_mg_kg=ccalpha, detected=detected)
        assert decision.verdict is expected


def test_statements_name_verdict_rule_and_source_in_both_languages():
    decision = evaluate(1.5, U, limit_row(), DecisionRule.EU_ENFORCEMENT)
    assert decision.verdict is N
    assert "不符合" in decision.statement_zh and "x − U > 限量" in decision.statement_zh
    assert "GB 2763-2021" in decision.statement_zh and "4.121" in decision.statement_zh
    assert "non-compliant" in decision.statement_en and "x − U > limit" in decision.statement_en
    assert "1.5 mg/kg" in decision.statement_en and "U = 0.25 mg/kg" in decision.statement_en
    guard = evaluate(0.9, U, limit_row(), DecisionRule.GUARD_BAND)
    assert "ILAC-G8:09/2019 4.2.2" in guard.statement_en and "保护带" in guard.statement_zh
    banned = evaluate(None, None, banned_row(), DecisionRule.SIMPLE_ACCEPTANCE)
    assert "禁用" in banned.statement_zh and "prohibited" in banned.statement_en
    assert (decision.rule, decision.value_mg_kg, decision.expanded_uncertainty_mg_kg) == (
        DecisionRule.EU_ENFORCEMENT,
        1.5,
        U,
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value_mg_kg": -0.1}, "value_mg_kg"),
        ({"value_mg_kg": math.nan}, "value_mg_kg"),
        ({"expanded_uncertainty_mg_kg": -1.0}, "expanded_uncertainty_mg_kg"),
        ({"decision_limit_mg_kg": math.inf}, "decision_limit_mg_kg"),
    ],
)
def test_bad_numbers_raise_naming_the_argument(kwargs, field):
    args = {"value_mg_kg": 0.5, "expanded_uncertainty_mg_kg": 0.1, "decision_limit_mg_kg": None} | kwargs
    with pytest.raises(DecisionInputError) as info:
        evaluate(
            args["value_mg_kg"],
            args["expanded_uncertainty_mg_kg"],
            limit_row(),
            DecisionRule.EU_ENFORCEMENT,
            decision_limit_mg_kg=args["decision_limit_mg_kg"],
        )
    assert info.value.field == field


def test_decision_is_frozen():
    decision = evaluate(0.5, U, limit_row(), DecisionRule.GUARD_BAND)
    with pytest.raises(AttributeError):
        decision.verdict = N  # type: ignore[misc]
