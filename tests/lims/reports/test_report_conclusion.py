"""The conclusion chosen by method type and verdicts, and the decision rule in words (lims.reports.conclusion)."""

from __future__ import annotations

from lims.reports.conclusion import SCREENING_DISCLAIMER_EN, SCREENING_DISCLAIMER_ZH, LineBasis, conclusion
from lims.reports.model import Verdict

GC = dict(screening=False, decision_rule="simple_acceptance")


def _line(zh: str, en: str, verdict: Verdict, standard: str | None = "GB 2763-2021", **kw: object) -> LineBasis:
    return LineBasis(analyte_zh=zh, analyte_en=en, verdict=verdict, limit_standard=standard,
                     **{**GC, **kw})  # type: ignore[arg-type]


def test_confirmatory_compliant_names_the_standard_used_and_no_disclaimer():
    c = conclusion([_line("毒死蜱", "chlorpyrifos", Verdict.COMPLIANT)])
    assert c.statement.startswith("经抽样检验，所检项目符合 GB 2763-2021《食品安全国家标准 食品中农药最大残留限量》要求。")
    assert "comply with GB 2763-2021" in c.statement
    assert SCREENING_DISCLAIMER_ZH not in c.statement and SCREENING_DISCLAIMER_EN not in c.statement


def test_confirmatory_non_compliant_names_the_failing_item_and_its_standard():
    c = conclusion([_line("毒死蜱", "chlorpyrifos", Verdict.NON_COMPLIANT),
                    _line("恩诺沙星", "enrofloxacin", Verdict.COMPLIANT, "GB 31650-2019")])
    assert "所检项目中毒死蜱不符合 GB 2763-2021《食品安全国家标准 食品中农药最大残留限量》要求" in c.statement
    assert "GB 31650-2019" not in c.statement  # only the standard the failing item was judged against
    assert "所检项目符合" not in c.statement


def test_veterinary_drug_limits_cite_gb31650():
    c = conclusion([_line("恩诺沙星", "enrofloxacin", Verdict.COMPLIANT, "GB 31650-2019")])
    assert "符合 GB 31650-2019《食品安全国家标准 食品中兽药最大残留限量》要求" in c.statement


def test_banned_not_detected_complies_with_announcement_250_and_its_rule_in_words():
    c = conclusion([_line("克仑特罗", "clenbuterol", Verdict.COMPLIANT, "农业农村部公告第250号", banned=True)])
    assert "符合 农业农村部公告第250号《食品动物中禁止使用的药品及其他化合物清单》要求" in c.statement
    assert "MARA Announcement No. 250" in c.statement
    assert "禁用物质" in c.decision_rule_text and "banned substances" in c.decision_rule_text


def test_screening_only_keeps_the_disclaimer_and_never_a_verdict():
    c = conclusion([LineBasis("有机磷和氨基甲酸酯类农药", "organophosphates and carbamates", screening=True,
                              verdict=Verdict.NOT_EVALUATED, decision_rule="GB/T 5009.199-2003 抑制率≥50%为阳性")])
    assert SCREENING_DISCLAIMER_ZH in c.statement and SCREENING_DISCLAIMER_EN in c.statement
    assert "符合" not in c.statement.replace("不作合格判定", "") and "comply" not in c.statement
    assert "抑制率≥50%为阳性" in c.decision_rule_text and "inhibition ≥ 50 %" in c.decision_rule_text


def test_a_screening_line_on_a_confirmatory_report_brings_no_disclaimer():
    c = conclusion([LineBasis("有机磷和氨基甲酸酯类农药", "OP/carbamates", screening=True, verdict=Verdict.NOT_EVALUATED,
                              decision_rule="GB/T 5009.199-2003 抑制率≥50%为阳性"),
                    _line("毒死蜱", "chlorpyrifos", Verdict.NON_COMPLIANT)])
    assert SCREENING_DISCLAIMER_ZH not in c.statement and "不符合 GB 2763-2021" in c.statement
    assert "抑制率" not in c.decision_rule_text  # the rule of the conclusion drawn, not of the screen


def test_no_limit_is_named_as_not_evaluated_and_never_compliant():
    c = conclusion([_line("毒死蜱", "chlorpyrifos", Verdict.NOT_EVALUATED, None)])
    assert "毒死蜱无适用限量标准，未作符合性判定" in c.statement and "所检项目符合" not in c.statement


def test_decision_rules_in_words_both_languages_never_as_code():
    for code, zh, en in (("simple_acceptance", "简单接受规则", "simple acceptance"),
                         ("guard_band", "保护带规则", "guarded acceptance"),
                         ("eu_enforcement", "执法判定规则", "enforcement rule")):
        c = conclusion([_line("毒死蜱", "chlorpyrifos", Verdict.COMPLIANT, decision_rule=code)])
        assert zh in c.decision_rule_text and en in c.decision_rule_text
        assert code not in c.decision_rule_text
