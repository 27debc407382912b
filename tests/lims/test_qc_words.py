"""Why a batch is held, in words: each QC detail as lims.services.batches._judge writes it is read back
into zh-CN and English with its numbers; Westgard rules in words; an unknown form is shown as it is."""

from __future__ import annotations

import pytest

from calibration.qc import QcLimits
from lims.services.batches import _judge
from lims.services.views.qc_words import qc_words, westgard_reason, westgard_words


@pytest.mark.parametrize(("kind", "args", "zh", "en"), [
    ("reagent_blank", (None, 0.004, None, 0.01), "空白测得值 0.004，应不大于报告限 0.01 的 30 %：不通过",
     "blank 0.004, at most 30 % of the reporting limit 0.01: fail"),
    ("matrix_blank", (None, 0.001, None, 0.01), "空白测得值 0.001，应不大于报告限 0.01 的 30 %：通过", None),
    ("duplicate", (None, 1.0, 1.5, None), "平行样相对偏差 RPD 40.0 %，应不大于 20 %：不通过", "duplicate RPD 40.0 %, at most 20 %: fail"),
    ("spike", (0.1, 0.05, None, None), "加标回收率 50.0 %，应在 60–140 % 之间：不通过", "spike recovery 50.0 %, within 60–140 %: fail"),
    ("ccv", (0.1, 0.078, None, None), "连续校准核查（CCV）偏差 -22.0 %，偏差绝对值应不大于 20 %：不通过", None),
    ("reference_material", (1.0, 1.1, None, None), "标准物质测得值偏差 +10.0 %，应在 ±20 % 以内：通过", None),
])
def test_each_qc_rule_in_words_with_the_numbers_of_its_judgement(kind, args, zh, en):
    nominal, measured, second, rl = args
    passed, _metric, detail = _judge(kind, nominal, measured, second, rl, QcLimits())
    words = qc_words(kind, "pass" if passed else "fail", detail)
    assert words.zh == zh and words.failed is (not passed)
    if en is not None:
        assert words.en == en


def test_an_unknown_detail_is_shown_as_it_is_after_the_kinds_label():
    words = qc_words("spike", "fail", "recovered by hand: see notebook p. 12")
    assert words.rule_zh == "加标回收" and words.zh == "recovered by hand: see notebook p. 12：不通过"


def test_westgard_rules_in_words():
    assert westgard_words("1-3s")[0] == "一个质控值超出均值 ±3s"
    assert westgard_words("2of3-2s")[0] == "连续 3 个质控值中有 2 个在同一侧超出 2s"
    assert westgard_words("10x")[1] == "10 consecutive control values on one side of the mean"
    assert "4s" in westgard_words("R-4s")[0]
    assert westgard_words("nonsense") == ("nonsense", "nonsense")
    reason = westgard_reason("QC-7", ["1-3s", "R-4s"])
    assert reason.failed and "QC-7" in reason.zh and reason.rule_en == "Westgard multirule 1-3s, R-4s"
