"""Why a batch is held, in words (zh-CN and English): each failed QC sample by its rule (blank, recovery,
RPD, CCV, reference material — SANTE/11312/2021 routine limits as ``lims.services.batches.add_qc`` stored
them) and each rejected Westgard run by the rules it broke (Westgard et al., Clin Chem 1981;27:493).

A QC sample's ``detail`` is the English record written when it was judged, naming the limit then in force;
the table below reads its numbers back out of it, so the words shown are those of the judgement, not of
today's limits. A detail of another form is shown as it is, after the QC kind's label."""

from __future__ import annotations

import re
from dataclasses import dataclass

from calibration.errors import CalibrationError
from calibration.westgard import parse_rule
from lims.vocabulary import QcKind, QcOutcome

_N = r"([+\-−]?\d+(?:\.\d+)?(?:e[+\-]?\d+)?)"

#: QC detail (as stored) → (zh-CN, English) with the detail's numbers, by QC kind.
QC_RULE_WORDS: dict[str, tuple[re.Pattern[str], str, str]] = {
    "blank": (re.compile(rf"^blank {_N} vs {_N} % of reporting limit {_N}$"),
              "空白测得值 {0}，应不大于报告限 {2} 的 {1} %",
              "blank {0}, at most {1} % of the reporting limit {2}"),
    "duplicate": (re.compile(rf"^RPD {_N} % \(≤ {_N} %\)$"),
                  "平行样相对偏差 RPD {0} %，应不大于 {1} %",
                  "duplicate RPD {0} %, at most {1} %"),
    "spike": (re.compile(rf"^recovery {_N} % \({_N}–{_N} %\)$"),
              "加标回收率 {0} %，应在 {1}–{2} % 之间",
              "spike recovery {0} %, within {1}–{2} %"),
    "ccv": (re.compile(rf"^CCV drift {_N} % \(\|drift\| ≤ {_N} %\)$"),
            "连续校准核查（CCV）偏差 {0} %，偏差绝对值应不大于 {1} %",
            "CCV drift {0} %, |drift| at most {1} %"),
    "reference_material": (re.compile(rf"^reference material bias {_N} % \(≤ ±{_N} %\)$"),
                           "标准物质测得值偏差 {0} %，应在 ±{1} % 以内",
                           "reference material bias {0} %, within ±{1} %"),
}
_KIND_RULE = {"reagent_blank": "blank", "matrix_blank": "blank"}


@dataclass(frozen=True)
class Reason:
    """One reason a batch is held (or one QC judgement), in both languages."""

    rule_zh: str  # which rule: "连续校准核查 CCV", "Westgard 1-3s"
    rule_en: str
    zh: str  # the finding, with its numbers and the limit
    en: str
    failed: bool


def qc_words(kind: str, outcome: str, detail: str) -> Reason:
    """A QC sample's judgement in words; ``outcome`` pass/fail adds 通过 / 不通过."""
    pattern, zh, en = QC_RULE_WORDS.get(_KIND_RULE.get(kind, kind), (None, "", ""))
    found = pattern.match(detail.strip()) if pattern is not None else None
    if found is not None:
        numbers = [g.replace("−", "-") for g in found.groups()]
        zh, en = zh.format(*numbers), en.format(*numbers)
    else:
        zh, en = detail, detail
    failed = outcome == QcOutcome.FAIL
    verdict_zh, verdict_en = QcOutcome.label_of(outcome), QcOutcome.label_of(outcome, "en")
    return Reason(QcKind.label_of(kind), QcKind.label_of(kind, "en"), f"{zh}：{verdict_zh}" if zh else verdict_zh,
                  f"{en}: {verdict_en}" if en else verdict_en, failed)


def westgard_words(rule: str) -> tuple[str, str]:
    """A Westgard rule ("1-3s", "2of3-2s", "R-4s", "10x") in words; an unknown name is shown as it is."""
    try:
        r = parse_rule(rule)
    except CalibrationError:
        return rule, rule
    k = f"{r.limit:g}"
    if r.kind == "range":
        return (f"同一批内两个质控值之差超过 {r.limit * 2:g}s（一个高于 +{k}s，一个低于 −{k}s）",
                f"within one run, one control above +{k} SD and one below −{k} SD (range over {r.limit * 2:g} SD)")
    if r.kind == "single":
        return f"一个质控值超出均值 ±{k}s", f"one control value beyond the mean ± {k} SD"
    if r.limit == 0:
        return f"连续 {r.count} 个质控值落在均值同一侧", f"{r.count} consecutive control values on one side of the mean"
    if r.count == r.window:
        return (f"连续 {r.count} 个质控值在均值同一侧超出 {k}s",
                f"{r.count} consecutive control values beyond {k} SD on the same side")
    return (f"连续 {r.window} 个质控值中有 {r.count} 个在同一侧超出 {k}s",
            f"{r.count} of {r.window} consecutive control values beyond {k} SD on the same side")


def westgard_reason(run_code: str, rejections: list[str]) -> Reason:
    """A rejected QC run as a reason its batch is held."""
    words = [westgard_words(r) for r in rejections]
    rules = "、".join(rejections) or "—"
    return Reason(f"Westgard 多规则 {rules}", f"Westgard multirule {', '.join(rejections) or '—'}",
                  f"质控运行 {run_code} 违反：" + "；".join(f"{r}（{zh}）" for r, (zh, _) in zip(rejections, words, strict=True)),
                  f"QC run {run_code} broke: " + "; ".join(f"{r} ({en})" for r, (_, en) in zip(rejections, words, strict=True)),
                  True)
