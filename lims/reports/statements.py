"""The statements block of a test report (声明): validity of the report and the objection period.

The three validity statements are the usual wording of Chinese test reports issued under CMA
(检验检测机构资质认定) practice: a report without the approver's signature, altered, or without the
inspection and testing seal (检验检测专用章) is invalid.

The objection period (复检) is configurable data (``LIMS_OBJECTION_WORKING_DAYS``,
``LIMS_OBJECTION_RAPID_HOURS``), printed with the rule it comes from. The citation below is the
《中华人民共和国农产品质量安全法》 as revised in 2022: an objection to a supervisory-sampling result within
5 working days of receiving it, to a rapid-test result within 4 hours, and a re-test never by a rapid
method. ``OBJECTION_RULE.verified`` is False: the article number and the "working days" wording were
taken from memory of the 2022 text and could not be confirmed from this project's sources. What was found
(2026-12, by search): a secondary summary stating 5 days for supervisory-sampling results and 4 hours for
rapid tests, no re-test by a rapid method, without article numbers (https://iadvpijw.com/shu-cai-zi-xun/
501800.html); the text of 《农产品质量安全监测管理办法》 (MOA Order 2012 No. 7), whose objection article was
not in the excerpts. Check against the official text (www.npc.gov.cn) and set ``verified`` when done; the
periods are settings, so a correction needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass

from lims.reports.model import ITEMS_TESTED_STATEMENT_EN, ITEMS_TESTED_STATEMENT_ZH

#: (zh-CN, English) — the report's validity statements, in print order.
VALIDITY_STATEMENTS: tuple[tuple[str, str], ...] = (
    (ITEMS_TESTED_STATEMENT_ZH, ITEMS_TESTED_STATEMENT_EN),
    ("报告无批准人签字无效。", "This report is invalid without the approver's signature."),
    ("报告涂改无效。", "This report is invalid if altered."),
    ("报告未加盖检验检测专用章无效。", "This report is invalid without the inspection and testing seal."),
)


@dataclass(frozen=True)
class ObjectionRule:
    """Where the objection period comes from: the rule, its article, and whether it was checked."""

    citation_zh: str
    citation_en: str
    verified: bool
    note: str


OBJECTION_RULE = ObjectionRule(
    citation_zh="《中华人民共和国农产品质量安全法》（2022 年修订）第四十三条",
    citation_en="Agricultural Product Quality and Safety Law of the PRC (revised 2022), Art. 43",
    verified=False,
    note="article number and periods not confirmed against the official text; see lims.reports.statements",
)


def objection_statement(*, rapid_only: bool, working_days: int, rapid_hours: int,
                        rule: ObjectionRule = OBJECTION_RULE) -> tuple[str, str]:
    """The objection-period statement (zh-CN, English): a rapid-test-only report states the hours, any
    other report the working days; either way the re-test is never a rapid test."""
    if rapid_only:
        return (f"对快速检测结果有异议的，可自收到检测结果时起 {rapid_hours} 小时内申请复检，复检不得采用快速检测方法"
                f"（{rule.citation_zh}）。",
                f"An objection to a rapid-test result may be lodged within {rapid_hours} hours of receiving it; "
                f"the re-test is not done by a rapid method ({rule.citation_en}).")
    return (f"对检测结果有异议的，可自收到检测结果之日起 {working_days} 个工作日内，向实施监督抽查的农业农村主管部门"
            f"或其上一级农业农村主管部门申请复检（{rule.citation_zh}）。",
            f"An objection to the results may be lodged within {working_days} working days of receiving them, "
            f"with the agriculture authority that ordered the sampling or the one above it ({rule.citation_en}).")
