"""The report's conclusion (检测结论) chosen by the kind of method and the verdicts, and the decision rule
in words (ISO/IEC 17025:2017 7.8.6; ILAC-G8:09/2019).

- Confirmatory results (GC, LC-MS/MS): "经抽样检验，所检项目符合／不符合 <standard>《<title>》要求", naming the
  standards of the limits actually used (GB 2763-2021 for pesticides, GB 31650-2019 for veterinary drugs,
  MARA Announcement No. 250 for banned substances). Items with no applicable limit are named as not
  evaluated; they never make a report "compliant".
- Screening-only reports (rapid tests): the screening disclaimer, never a compliance verdict.
- A confirmatory report never prints the screening disclaimer.

Pure: the caller says, per result line, what it is (:class:`LineBasis`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lims.reports.model import Conformity, Verdict

SCREENING_DISCLAIMER_ZH = "快速检测结果仅作筛查，不作合格判定；筛查阳性样品须经确证检测。"
SCREENING_DISCLAIMER_EN = ("Rapid-test results are for screening only and are no conformity decision; "
                           "screening positives are confirmed by a confirmatory method.")

#: Limit standards by their code: (zh-CN title, English title).
STANDARD_TITLES: dict[str, tuple[str, str]] = {
    "GB 2763-2021": ("食品安全国家标准 食品中农药最大残留限量",
                     "National food safety standard — Maximum residue limits for pesticides in food"),
    "GB 31650-2019": ("食品安全国家标准 食品中兽药最大残留限量",
                      "National food safety standard — Maximum residue limits for veterinary drugs in foods"),
    "农业农村部公告第250号": ("食品动物中禁止使用的药品及其他化合物清单",
                      "List of drugs and other compounds prohibited for use in food animals"),
}
#: English names of the limit standards whose code is Chinese text.
STANDARD_CODES_EN: dict[str, str] = {"农业农村部公告第250号": "MARA Announcement No. 250"}

#: Decision rules in words (zh-CN, English), by the code stored on results (lims.limits.DecisionRule).
DECISION_RULE_WORDS: dict[str, tuple[str, str]] = {
    "simple_acceptance": ("简单接受规则：测得值不大于限量判为符合，大于限量判为不符合（ILAC-G8:09/2019 4.2.1，保护带为零）",
                          "simple acceptance: a measured value not above the limit complies, above it does not "
                          "(ILAC-G8:09/2019 4.2.1, zero guard band)"),
    "guard_band": ("保护带规则：测得值不大于（限量 − 扩展不确定度 U）判为符合（ILAC-G8:09/2019 4.2.2）",
                   "guarded acceptance: a measured value not above (limit − expanded uncertainty U) complies "
                   "(ILAC-G8:09/2019 4.2.2)"),
    "eu_enforcement": ("执法判定规则：仅当测得值减去扩展不确定度 U 仍大于限量时判为不符合（SANTE/11312/2021）",
                       "enforcement rule: non-compliant only when the measured value minus the expanded "
                       "uncertainty U is above the limit (SANTE/11312/2021)"),
}
BANNED_RULE_WORDS = ("禁用物质：在方法检出限（CCα）及以上检出判为不符合，未检出判为符合",
                     "banned substances: detected at or above the method's LOD (CCα) is non-compliant, "
                     "not detected complies")
#: Screening rules stored as words; their English.
SCREENING_RULE_EN: dict[str, str] = {
    "GB/T 5009.199-2003 抑制率≥50%为阳性": "enzyme inhibition ≥ 50 % is screening positive (GB/T 5009.199-2003)",
}


@dataclass(frozen=True)
class LineBasis:
    """What the conclusion needs of one result line."""

    analyte_zh: str
    analyte_en: str
    screening: bool
    verdict: Verdict
    limit_standard: str | None = None
    banned: bool = False
    decision_rule: str = ""


def standard_phrase(code: str) -> tuple[str, str]:
    """"GB 2763-2021《食品安全国家标准 食品中农药最大残留限量》" and its English."""
    zh_title, en_title = STANDARD_TITLES.get(code, ("", ""))
    code_en = STANDARD_CODES_EN.get(code, code)
    return (f"{code}《{zh_title}》" if zh_title else code,
            f"{code_en} ({en_title})" if en_title else code_en)


def _standards(lines: Sequence[LineBasis]) -> tuple[str, str]:
    codes = list(dict.fromkeys(ln.limit_standard for ln in lines if ln.limit_standard))
    phrases = [standard_phrase(c) for c in codes]
    return "、".join(p[0] for p in phrases), "; ".join(p[1] for p in phrases)


def _names(lines: Sequence[LineBasis]) -> tuple[str, str]:
    return "、".join(ln.analyte_zh for ln in lines), ", ".join(ln.analyte_en for ln in lines)


def _confirmatory_statement(lines: Sequence[LineBasis]) -> str:
    failing = [ln for ln in lines if ln.verdict.fails]
    judged = [ln for ln in lines if ln.verdict is not Verdict.NOT_EVALUATED]
    unjudged = [ln for ln in lines if ln.verdict is Verdict.NOT_EVALUATED]
    parts: list[tuple[str, str]] = []
    if failing:
        std_zh, std_en = _standards(failing)
        names_zh, names_en = _names(failing)
        parts.append((f"经抽样检验，所检项目中{names_zh}不符合 {std_zh}要求，检验结论为不合格。",
                      f"Sampled and tested: not compliant with {std_en}: {names_en}; the sample is non-compliant."))
    elif judged:
        std_zh, std_en = _standards(judged)
        parts.append((f"经抽样检验，所检项目符合 {std_zh}要求。",
                      f"Sampled and tested: the items tested comply with {std_en}."))
    if unjudged:
        names_zh, names_en = _names(unjudged)
        parts.append((f"{names_zh}无适用限量标准，未作符合性判定。",
                      f"{names_en}: no applicable limit; conformity not evaluated."))
    return "\n".join(zh for zh, _ in parts) + "\n" + " ".join(en for _, en in parts)


def _rule_words(lines: Sequence[LineBasis]) -> list[tuple[str, str]]:
    words: list[tuple[str, str]] = []
    for ln in lines:
        if ln.banned:
            pair = BANNED_RULE_WORDS
        elif ln.screening:
            pair = (ln.decision_rule, SCREENING_RULE_EN.get(ln.decision_rule, ln.decision_rule))
        else:
            pair = DECISION_RULE_WORDS.get(ln.decision_rule or "simple_acceptance",
                                           (ln.decision_rule, ln.decision_rule))
        if pair[0] and pair not in words:
            words.append(pair)
    return words


def conclusion(lines: Sequence[LineBasis]) -> Conformity:
    """The conclusion and the decision rule in words for a report's result lines."""
    confirmatory = [ln for ln in lines if not ln.screening]
    if confirmatory:
        statement = _confirmatory_statement(confirmatory)
        words = _rule_words(confirmatory)
    else:
        statement = f"{SCREENING_DISCLAIMER_ZH}\n{SCREENING_DISCLAIMER_EN}"
        words = _rule_words(lines)
    if not words:
        words = [("快速检测筛查判定，阳性须经确证检测", "screening call; positives are confirmed")] if not confirmatory \
            else [DECISION_RULE_WORDS["simple_acceptance"]]
    codes = sorted({("banned" if ln.banned else ln.decision_rule or "simple_acceptance")
                    for ln in (confirmatory or lines)})
    text = "；".join(zh for zh, _ in words) + "。\n" + "; ".join(en for _, en in words) + "."
    return Conformity(statement=statement, decision_rule=",".join(codes), decision_rule_text=text)
