"""What a person sees about a result's limit (pure): the stored ``details["limit_check"]`` with its labels
and the warning the review screen and the report's working copy print.

Fields shown (``limit_check`` of the result read model): ``flag`` (:class:`~lims.vocabulary.LimitFlag`) and
``flag_label``; ``value_mg_kg``, ``limit_value`` + ``unit`` (as the standard states it), ``limit_type``,
``commodity`` (the row's own commodity or group), ``matched_via`` + label, ``group_path``,
``source_standard``, ``source_clause``, ``verified``, ``banned``, ``detection`` + label (未检出 / 检出);
``warning_zh`` / ``warning_en`` (None when there is nothing to warn about); ``needs_judgement``; and
``judgement`` (the approver's, with ``kind_label``, ``by``, ``at``) when one was recorded.
"""

from __future__ import annotations

from typing import Any

from lims.vocabulary import AnalysisKind, Detection, LimitFlag, LimitJudgementKind, MatchedVia, Verdict

__all__ = ["shown_limit_check"]


def _warning(check: dict[str, Any]) -> tuple[str | None, str | None]:
    flag = check.get("flag")
    judgement = check.get("judgement")
    if flag == LimitFlag.NO_LIMIT:
        if judgement:
            kind = LimitJudgementKind.label_of(judgement.get("kind"))
            kind_en = LimitJudgementKind.label_of(judgement.get("kind"), "en")
            return (f"无限量标准：已由批准人{judgement.get('by', '')}判定（{kind}）",
                    f"no applicable limit: judged by the approver {judgement.get('by', '')} ({kind_en})")
        return ("无限量标准：批准前须由批准人明确判定（不适用限量，或依据指定标准、给定限量值及其出处判定）",
                "no applicable limit: the approver must judge this result explicitly before approval")
    if check.get("limit_type") and not check.get("verified"):
        source = f"{check.get('source_standard', '')} {check.get('source_clause', '')}".strip()
        return (f"限量未经核对：按未与标准原文核对的限量判定（{source}），签发前请核对",
                f"limit not verified against the standard's text ({source}); check it before issue")
    return None, None


def shown_limit_check(check: dict[str, Any] | None, *, kind: str, verdict: str) -> dict[str, Any] | None:
    """The stored check with its labels and warning; a confirmatory result left 未判定 without any check
    (a manual entry in another unit, say) is shown as 无限量标准 too. None for a screening result."""
    if kind == AnalysisKind.SCREENING:
        return None
    if check is None:
        if verdict != Verdict.NOT_EVALUATED:
            return None
        check = {"flag": str(LimitFlag.NO_LIMIT), "banned": False, "judgement": None}
    out = dict(check)
    out["flag_label"] = LimitFlag.label_of(out.get("flag"))
    out["flag_label_en"] = LimitFlag.label_of(out.get("flag"), "en")
    out["matched_via_label"] = MatchedVia.label_of(out.get("matched_via")) or None
    out["detection_label"] = Detection.label_of(out.get("detection")) or None
    out["warning_zh"], out["warning_en"] = _warning(out)
    out["needs_judgement"] = out.get("flag") == LimitFlag.NO_LIMIT and not out.get("judgement")
    if out.get("judgement"):
        out["judgement"] = {**out["judgement"],
                            "kind_label": LimitJudgementKind.label_of(out["judgement"].get("kind"))}
    return out
