"""Westgard multirule (calibration.westgard), each rule on crafted sequences.

Rule definitions: Westgard JO, Barry PL, Hunt MR, Groth T. A multi-rule Shewhart chart for quality control
in clinical chemistry. Clin Chem 1981;27:493-501; westgard.com "Westgard Rules" (multirule for 2 and 3
control materials). Mean 0 and SD 1 throughout, so each value is its z-score."""

from __future__ import annotations

import pytest

from calibration.errors import CalibrationError
from calibration.westgard import ControlResult, default_rules, evaluate, parse_rule, parse_rules


def runs(*groups: dict[str, float]) -> list[ControlResult]:
    """Each argument is a run: {level: z}."""
    return [ControlResult(f"r{i + 1}", lv, z, 0.0, 1.0) for i, g in enumerate(groups) for lv, z in g.items()]


def verdict(results: list[ControlResult], rules: str | None = None) -> list[tuple[bool, tuple[str, ...]]]:
    return [(v.accepted, v.rejections) for v in evaluate(results, parse_rules(rules) if rules else None)]


@pytest.mark.parametrize("side", [1, -1])
def test_1_3s_rejects_one_result_beyond_3s_and_1_2s_warns(side: int) -> None:
    v = evaluate(runs({"L1": 2.5 * side, "L2": 0.5 * side}, {"L1": 0.0, "L2": 3.1 * side}))
    assert (v[0].accepted, v[0].warnings, v[0].rejections) == (True, ("1-2s",), ())
    assert (v[1].accepted, v[1].rejections) == (False, ("1-3s",))
    assert "1-2s" in v[1].warnings


def test_exactly_3s_and_2s_are_not_beyond() -> None:
    v = evaluate(runs({"L1": 2.0, "L2": -2.0}, {"L1": 3.0, "L2": 0.0}))
    assert v[0].accepted and v[0].warnings == ()
    assert v[1].accepted and v[1].warnings == ("1-2s",)


@pytest.mark.parametrize("side", [1, -1])
def test_2_2s_within_run_across_levels(side: int) -> None:
    assert verdict(runs({"L1": 2.2 * side, "L2": 2.4 * side})) == [(False, ("2-2s",))]


@pytest.mark.parametrize("side", [1, -1])
def test_2_2s_across_runs_within_level(side: int) -> None:
    got = verdict(runs({"L1": 2.3 * side, "L2": 0.1}, {"L1": 2.1 * side, "L2": -0.2}))
    assert got == [(True, ()), (False, ("2-2s",))]


def test_2_2s_across_levels_between_consecutive_runs() -> None:
    # L2 of run 1 and L1 of run 2 are consecutive results
    got = verdict(runs({"L1": 0.0, "L2": 2.5}, {"L1": 2.2, "L2": 0.0}))
    assert got == [(True, ()), (False, ("2-2s",))]


def test_2_2s_needs_the_same_side() -> None:
    # opposite sides in two runs: neither 2-2s nor R-4s (R-4s is within one run only)
    assert verdict(runs({"L1": 2.5}, {"L1": -2.5})) == [(True, ()), (True, ())]


@pytest.mark.parametrize("side", [1, -1])
def test_r_4s_within_one_run(side: int) -> None:
    assert verdict(runs({"L1": 2.1 * side, "L2": -2.2 * side})) == [(False, ("R-4s",))]


def test_r_4s_not_across_runs() -> None:
    got = verdict(runs({"L1": 0.0, "L2": 2.1}, {"L1": -2.2, "L2": 0.0}))
    assert got == [(True, ()), (True, ())]


@pytest.mark.parametrize("side", [1, -1])
def test_4_1s_across_runs_within_one_level(side: int) -> None:
    seq = [{"L1": 1.5 * side, "L2": 0.3 * -side} for _ in range(4)]
    got = verdict(runs(*seq))
    assert got[:3] == [(True, ())] * 3 and got[3] == (False, ("4-1s",))


@pytest.mark.parametrize("side", [1, -1])
def test_4_1s_across_levels_and_runs(side: int) -> None:
    # two runs × two levels, all beyond 1s on one side: 4 consecutive results
    got = verdict(runs({"L1": 1.2 * side, "L2": 1.4 * side}, {"L1": 1.3 * side, "L2": 1.1 * side}))
    assert got == [(True, ()), (False, ("4-1s",))]


def test_4_1s_broken_streak_does_not_reject() -> None:
    got = verdict(runs({"L1": 1.2}, {"L1": 1.3}, {"L1": 0.9}, {"L1": 1.5}, {"L1": 1.6}))
    assert all(ok for ok, _ in got)


@pytest.mark.parametrize("side", [1, -1])
def test_10x_within_level_across_runs(side: int) -> None:
    seq = [{"L1": 0.4 * side, "L2": 0.5 * -side} for _ in range(10)]
    got = verdict(runs(*seq))
    assert got[8] == (True, ()) and got[9] == (False, ("10x",))


def test_10x_across_levels_five_runs_of_two() -> None:
    got = verdict(runs(*[{"L1": -0.3, "L2": -0.6} for _ in range(5)]))
    assert got[3] == (True, ()) and got[4] == (False, ("10x",))


def test_a_run_is_not_rejected_for_an_earlier_violation() -> None:
    got = verdict(runs({"L1": 2.5, "L2": 2.5}, {"L1": 0.1, "L2": -0.1}))
    assert got == [(False, ("2-2s",)), (True, ())]


def test_three_level_default_rules() -> None:
    assert [r.name for r in default_rules(3)] == ["1-3s", "2of3-2s", "R-4s", "3-1s", "6x"]
    assert [r.name for r in default_rules(2)] == ["1-3s", "2-2s", "R-4s", "4-1s", "10x"]
    assert [r.name for r in default_rules(1)] == ["1-3s", "2-2s", "R-4s", "4-1s", "10x"]


@pytest.mark.parametrize("side", [1, -1])
def test_2of3_2s_within_run_three_levels(side: int) -> None:
    got = verdict(runs({"L1": 2.3 * side, "L2": 0.2, "L3": 2.1 * side}))
    assert got == [(False, ("2of3-2s",))]


def test_2of3_2s_across_runs_within_level() -> None:
    got = verdict(runs({"L1": 2.3, "L2": 0.0, "L3": 0.0}, {"L1": -0.5, "L2": 0.0, "L3": -0.3},
                       {"L1": 2.2, "L2": 0.1, "L3": 0.0}))
    assert got == [(True, ()), (True, ()), (False, ("2of3-2s",))]


@pytest.mark.parametrize("side", [1, -1])
def test_3_1s_within_run_three_levels(side: int) -> None:
    assert verdict(runs({"L1": 1.2 * side, "L2": 1.5 * side, "L3": 1.1 * side})) == [(False, ("3-1s",))]


def test_6x_two_runs_of_three_levels() -> None:
    got = verdict(runs({"L1": 0.2, "L2": 0.5, "L3": 0.3}, {"L1": 0.4, "L2": 0.6, "L3": 0.1}))
    assert got == [(True, ()), (False, ("6x",))]


def test_three_levels_do_not_apply_two_level_rules() -> None:
    # 2 results beyond +2s in consecutive positions would be 2-2s; with three levels 2of3-2s names it
    got = verdict(runs({"L1": 2.3, "L2": 2.4, "L3": 0.0}))
    assert got == [(False, ("2of3-2s",))]
    # four consecutive beyond 1s: 3-1s under the 3-level rules, never 4-1s
    got = verdict(runs({"L1": 0.0, "L2": 1.2, "L3": 1.3}, {"L1": 1.4, "L2": 1.5, "L3": 0.0}))
    assert got[1] == (False, ("3-1s",))


def test_custom_rules() -> None:
    seq = runs({"L1": 2.2, "L2": 2.4})
    assert verdict(seq, "1-3s") == [(True, ())]
    assert verdict(seq, "1-3s,2-2s,1-2s") == [(False, ("2-2s",))]
    assert verdict(runs(*[{"L1": 0.2}] * 8), "8x") [-1] == (False, ("8x",))
    assert verdict(runs({"L1": 2.6}), "1-2.5s") == [(False, ("1-2.5s",))]


def test_rule_names_are_parsed() -> None:
    assert parse_rule("r-4s").name == "R-4s" and parse_rule("2OF3-2s").name == "2of3-2s"
    with pytest.raises(CalibrationError, match="unknown Westgard rule"):
        parse_rule("2-2x")
    with pytest.raises(CalibrationError):
        parse_rules(" , ")


def test_bad_input() -> None:
    with pytest.raises(CalibrationError) as e:
        evaluate([ControlResult("a", "L1", 1.0, 0.0, 0.0)])
    assert e.value.field == "sd" and e.value.point == 0
    with pytest.raises(CalibrationError) as e:
        evaluate(runs({"L1": 0.1}, {"L1": 0.1}) + [ControlResult("r1", "L1", 0.0, 0.0, 1.0)])
    assert e.value.field == "run" and e.value.point == 2
    with pytest.raises(CalibrationError):
        evaluate([])


@pytest.mark.parametrize("side", [1, -1])
def test_3_1s_across_runs_within_one_level(side: int) -> None:
    seq = [{"L1": 1.4 * side, "L2": 0.2 * -side, "L3": 0.1 * -side} for _ in range(3)]
    got = verdict(runs(*seq))
    assert got[:2] == [(True, ())] * 2 and got[2] == (False, ("3-1s",))


@pytest.mark.parametrize("side", [1, -1])
def test_6x_across_runs_within_one_level(side: int) -> None:
    seq = [{"L1": 0.3 * side, "L2": 0.2 * -side, "L3": 0.1 * -side} for _ in range(6)]
    got = verdict(runs(*seq))
    assert got[4] == (True, ()) and got[5] == (False, ("6x",))


def test_exactly_on_the_mean_breaks_a_10x_streak() -> None:
    seq = [{"L1": 0.5}] * 5 + [{"L1": 0.0}] + [{"L1": 0.5}] * 5
    assert all(ok for ok, _ in verdict(runs(*seq)))
