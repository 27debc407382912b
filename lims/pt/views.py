"""Read models for the API, the charts and the reports (plain dicts, JSON-ready): a PT round as
provider, and this laboratory's participations with their scores and nonconformities."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clock import as_utc
from lims.db.models import Lab, Sample
from lims.db.models_pt import (
    Nonconformity,
    PtExternalScore,
    PtParticipant,
    PtParticipation,
    PtRound,
    PtRoundAnalyte,
    PtScore,
    PtSubmission,
)
from lims.pt.provider import get_round, participants, unit_conversions
from lims.services.errors import NotFound
from lims.vocabulary import RoundStatus
from proficiency import combined

CLASS_ZH = {"satisfactory": "满意", "questionable": "可疑", "unsatisfactory": "不满意"}
DETECTION_ZH = {"true positive": "正确检出", "false negative": "假阴性", "false positive": "假阳性",
                "true negative": "正确未检出", "": ""}
ASSIGNED_ZH = {"consensus": "参加者公议值（稳健统计 算法A，ISO 13528:2022 C.3.1）",
               "reference": "参考值（含标准不确定度）"}
SIGMA_ZH = {"ffp": "基于目标的标准差（相对标准差 {rsd:.0%}）", "horwitz": "Horwitz 公式（Thompson 修正）",
            "robust": "参加者结果的稳健标准差 s*"}
STATUS_ZH = RoundStatus.labels()  # the round statuses in Chinese (lims.vocabulary)


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
    """One row per submission: participant code, analyte, result and its scores (if scored);
    ``as_submitted`` holds the result, unit, LOQ and U as submitted when they were converted."""
    q = (select(PtSubmission, PtParticipant.code, PtRoundAnalyte.code, PtScore)
         .join(PtParticipant, PtParticipant.id == PtSubmission.participant_id)
         .join(PtRoundAnalyte, PtRoundAnalyte.id == PtSubmission.round_analyte_id)
         .outerjoin(PtScore, PtScore.submission_id == PtSubmission.id)
         .where(PtParticipant.round_id == rnd.id)
         .order_by(PtRoundAnalyte.position, PtParticipant.code))
    if participant_code is not None:
        q = q.where(PtParticipant.code == participant_code)
    found = s.execute(q).all()
    as_submitted = unit_conversions(s, [sub for sub, *_ in found])
    out = []
    for sub, pcode, acode, sc in found:
        out.append({
            "participant_code": pcode, "analyte": acode, "result": sub.result, "unit": sub.unit,
            "as_submitted": as_submitted.get(sub.id),
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


#: Kinds of outlying result listed in the round summary.
OUTLIER_ACTION = "action signal"
OUTLIER_KIND_ZH = {OUTLIER_ACTION: "|z| ≥ 3 不满意", combined.FALSE_POSITIVE: "假阳性",
                   combined.FALSE_NEGATIVE: "假阴性"}
#: |z| (or |z′|) at or above which a result is an action signal (ISO 13528:2022 9.4.2).
ACTION_LIMIT = 3.0


@dataclass(frozen=True)
class Outlier:
    """One outlying result of a round: an action signal (|z| ≥ 3, or |z′| ≥ 3) or a false
    positive/negative against the MRRL."""

    analyte: str
    participant_code: str
    kind: str
    result: float | None
    statistic: str | None
    score: float | None


def outliers(rows: Iterable[Mapping[str, Any]]) -> list[Outlier]:
    """The outlying results among :func:`score_rows`, in analyte order, then by participant code.

    A false positive (reported ≥ MRRL, analyte absent) and a false negative (not reported, analyte
    present ≥ MRRL) carry no score; an action signal is |score| ≥ 3 (ISO 13528:2022 9.4.2)."""
    out = []
    for r in rows:
        score = r["score"]
        if score is not None and abs(score) >= ACTION_LIMIT:
            out.append(Outlier(r["analyte"], r["participant_code"], OUTLIER_ACTION, r["result"], r["statistic"],
                               score))
        if r["detection"] in (combined.FALSE_POSITIVE, combined.FALSE_NEGATIVE):
            out.append(Outlier(r["analyte"], r["participant_code"], r["detection"], r["result"], r["statistic"],
                               score))
    return out



# ---------------------------------------------------------------------------------------------- participant side

def _nonconformity_view(nc: Nonconformity) -> dict[str, Any]:
    return {"id": nc.id, "status": nc.status, "owner": nc.owner, "description": nc.description,
            "due_date": nc.due_date.isoformat() if nc.due_date else None,
            "root_cause": nc.root_cause, "action": nc.action, "verification": nc.verification,
            "closed_at": _iso(nc.closed_at)}


def participations_view(s: Session, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Participations (all, or those in ``ids``) by round date, each with the scores reported back
    and the nonconformities they opened (four queries whatever the number of rounds)."""
    q = select(PtParticipation).order_by(PtParticipation.round_date, PtParticipation.id)
    if ids is not None:
        q = q.where(PtParticipation.id.in_(list(ids)))
    parts = list(s.execute(q).scalars())
    if not parts:
        return []
    ext = list(s.execute(select(PtExternalScore).where(PtExternalScore.participation_id.in_([p.id for p in parts]))
                         .order_by(PtExternalScore.id)).scalars())
    nc_ids = [e.nonconformity_id for e in ext if e.nonconformity_id is not None]
    ncs = {nc.id: nc for nc in s.execute(select(Nonconformity).where(Nonconformity.id.in_(nc_ids))).scalars()
           } if nc_ids else {}
    samples = _codes_by_id(s, Sample, [p.sample_id for p in parts if p.sample_id is not None])
    labs = _codes_by_id(s, Lab, [p.lab_id for p in parts if p.lab_id is not None])
    return [_participation_doc(p, [e for e in ext if e.participation_id == p.id], ncs, samples, labs)
            for p in parts]


def _participation_doc(p: PtParticipation, mine: list[PtExternalScore], ncs: Mapping[int, Nonconformity],
                       samples: Mapping[int, str], labs: Mapping[int, str]) -> dict[str, Any]:
    return {
        "id": p.id, "provider_name": p.provider_name, "round_code": p.round_code,
        "scheme_name": p.scheme_name, "round_date": p.round_date.isoformat(),
        "participant_code": p.participant_code, "responsible": p.responsible,
        "lab_code": labs.get(p.lab_id) if p.lab_id is not None else None,
        "sample_code": samples.get(p.sample_id) if p.sample_id is not None else None,
        "scores": [_external_score_view(e) for e in mine],
        "nonconformities": [_nonconformity_view(ncs[e.nonconformity_id]) for e in mine
                            if e.nonconformity_id is not None],
    }


def _codes_by_id(s: Session, model: type[Sample] | type[Lab], ids: list[int]) -> dict[int, str]:
    """id → code of the samples (or labs) in ``ids`` (one query; none when ``ids`` is empty)."""
    if not ids:
        return {}
    return {i: c for i, c in s.execute(select(model.id, model.code).where(model.id.in_(ids)))}


def _external_score_view(e: PtExternalScore) -> dict[str, Any]:
    return {"id": e.id, "analyte": e.analyte, "unit": e.unit, "result": e.result,
            "assigned_value": e.assigned_value, "sigma_pt": e.sigma_pt, "u_assigned": e.u_assigned,
            "expanded_uncertainty": e.expanded_uncertainty, "statistic": e.statistic, "z": e.z,
            "en": e.en, "classification": e.classification, "nonconformity_id": e.nonconformity_id}


def participation_view(s: Session, participation_id: int) -> dict[str, Any]:
    """One participation (:func:`participations_view`); NotFound names ``participation_id``."""
    found = participations_view(s, [participation_id])
    if not found:
        raise NotFound(f"participation {participation_id} not found", field="participation_id")
    return found[0]


def rounds_list(s: Session, *, newest_first: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """PT rounds as listed (REST and the PT page): code, title, matrix, status, provider, deadline."""
    q = select(PtRound).order_by(PtRound.id.desc() if newest_first else PtRound.id).limit(limit)
    return [{"code": r.code, "title": r.title, "matrix": r.matrix, "status": r.status,
             "provider": r.scheme.provider_name, "deadline": _iso(r.deadline)} for r in s.execute(q).scalars()]
