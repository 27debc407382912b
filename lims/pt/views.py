"""Read models of a PT round for the API, the charts and the reports (plain dicts, JSON-ready)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.models_pt import PtParticipant, PtRound, PtRoundAnalyte, PtScore, PtSubmission
from lims.pt.provider import as_utc, get_round, participants
from lims.services.errors import NotFound

CLASS_ZH = {"satisfactory": "满意", "questionable": "可疑", "unsatisfactory": "不满意"}
DETECTION_ZH = {"true positive": "正确检出", "false negative": "假阴性", "false positive": "假阳性",
                "true negative": "正确未检出", "": ""}
ASSIGNED_ZH = {"consensus": "参加者公议值（稳健统计 算法A，ISO 13528:2022 C.3.1）",
               "reference": "参考值（含标准不确定度）"}
SIGMA_ZH = {"ffp": "基于目标的标准差（相对标准差 {rsd:.0%}）", "horwitz": "Horwitz 公式（Thompson 修正）",
            "robust": "参加者结果的稳健标准差 s*"}
STATUS_ZH = {"draft": "草稿", "open": "接收结果中", "closed": "已截止", "scored": "已评价", "published": "已发布"}


def sigma_method_text(a: PtRoundAnalyte) -> str:
    return SIGMA_ZH[a.sigma_method].format(rsd=a.ffp_rsd or 0.0)


def analyte_view(a: PtRoundAnalyte) -> dict[str, Any]:
    return {
        "code": a.code, "name_zh": a.name_zh, "unit": a.unit, "mrrl": a.mrrl, "present": a.present,
        "assigned_method": a.assigned_method, "reference_value": a.reference_value, "reference_u": a.reference_u,
        "sigma_method": a.sigma_method, "ffp_rsd": a.ffp_rsd, "assigned_value": a.assigned_value,
        "u_assigned": a.u_assigned, "sigma_pt": a.sigma_pt, "robust_sd": a.robust_sd, "n": a.n_results,
        "statistic": a.statistic, "homogeneity": a.homogeneity, "stability": a.stability,
    }


def round_view(s: Session, code: str) -> dict[str, Any]:
    rnd = get_round(s, code)
    return {
        "code": rnd.code, "title": rnd.title, "matrix": rnd.matrix, "status": rnd.status,
        "scheme": rnd.scheme.code, "provider": rnd.scheme.provider_name,
        "deadline": _iso(rnd.deadline), "code_seed": rnd.code_seed,
        "analytes": [analyte_view(a) for a in rnd.analytes],
        "participants": len(participants(s, rnd)),
    }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat()


def score_rows(s: Session, rnd: PtRound, *, participant_code: str | None = None) -> list[dict[str, Any]]:
    """One row per submission: participant code, analyte, result and its scores (if scored)."""
    q = (select(PtSubmission, PtParticipant.code, PtRoundAnalyte.code, PtScore)
         .join(PtParticipant, PtParticipant.id == PtSubmission.participant_id)
         .join(PtRoundAnalyte, PtRoundAnalyte.id == PtSubmission.round_analyte_id)
         .outerjoin(PtScore, PtScore.submission_id == PtSubmission.id)
         .where(PtParticipant.round_id == rnd.id)
         .order_by(PtRoundAnalyte.position, PtParticipant.code))
    if participant_code is not None:
        q = q.where(PtParticipant.code == participant_code)
    out = []
    for sub, pcode, acode, sc in s.execute(q).all():
        out.append({
            "participant_code": pcode, "analyte": acode, "result": sub.result, "unit": sub.unit,
            "method": sub.method, "loq": sub.loq, "expanded_uncertainty": sub.expanded_uncertainty,
            "coverage_factor": sub.coverage_factor, "recovery_percent": sub.recovery_percent,
            "z": sc.z if sc else None, "z_prime": sc.z_prime if sc else None,
            "statistic": sc.statistic if sc else None, "score": sc.score if sc else None,
            "classification": sc.classification if sc else None, "zeta": sc.zeta if sc else None,
            "en": sc.en if sc else None, "en_action": sc.en_action if sc else None,
            "d": sc.d if sc else None, "d_percent": sc.d_percent if sc else None,
            "detection": sc.detection if sc else None,
        })
    return out


def participant_view(p: PtParticipant, *, with_identity: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"code": p.code, "az2": p.az2, "rsz": p.rsz, "ssz": p.ssz,
                           "false_positives": p.false_positives, "false_negatives": p.false_negatives}
    if with_identity:
        doc.update(lab_code=p.lab_code, lab_name=p.lab_name)
    return doc


def scores_view(s: Session, code: str, *, participant_code: str | None = None) -> dict[str, Any]:
    rnd = get_round(s, code)
    parts = participants(s, rnd)
    if participant_code is not None and participant_code not in {p.code for p in parts}:
        raise NotFound(f"participant {participant_code} is not in round {code}", field="participant_code")
    return {
        "round": rnd.code, "status": rnd.status,
        "analytes": [analyte_view(a) for a in rnd.analytes],
        "participants": [participant_view(p, with_identity=False) for p in parts
                         if participant_code is None or p.code == participant_code],
        "scores": score_rows(s, rnd, participant_code=participant_code),
    }
