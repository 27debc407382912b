"""Scoring of a closed PT round (provider side; statistics ISO 13528:2022 via :mod:`proficiency`).

Per analyte: the assigned value by consensus (Algorithm A, C.3.1) or from a reference value with its
standard uncertainty, σ_pt by the analyte's method (fitness for purpose, Horwitz, or the robust SD),
the homogeneity and stability checks repeated with that σ_pt (Annex B), and every result scored
(z, or z′ when u(x_pt) > 0.3 σ_pt, ζ, E_n). Per participant: false positives/negatives against the
MRRL and the combined scores (AZ², RSZ, SSZ).

Functions take an open :class:`~sqlalchemy.orm.Session`; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.db.models_pt import PtParticipant, PtRound, PtRoundAnalyte, PtScore, PtSubmission, RoundStatus
from lims.pt.provider import (
    as_json,
    get_round,
    measurements,
    method_sigma,
    now_utc,
    participants,
    require_status,
)
from lims.services.errors import InvalidInput
from lims.workflow import transition
from proficiency import combined, scores, sigma
from proficiency.errors import ProficiencyError


@dataclass(frozen=True)
class AnalyteOutcome:
    code: str
    present: bool
    n: int
    assigned_value: float | None
    u_assigned: float | None
    sigma_pt: float | None
    robust_sd: float | None
    statistic: str | None
    homogeneity_passed: bool | None
    stability_passed: bool | None


@dataclass(frozen=True)
class RoundScoring:
    round_code: str
    analytes: tuple[AnalyteOutcome, ...]
    scores: int
    satisfactory: int
    questionable: int
    unsatisfactory: int
    en_actions: int
    false_negatives: int
    false_positives: int


def score_round(s: Session, round_code: str, *, now: dt.datetime | None = None) -> RoundScoring:
    """Assign values, σ_pt, score every result and combine scores (round closed, or re-scored)."""
    rnd = get_round(s, round_code)
    require_status(rnd, [RoundStatus.CLOSED, RoundStatus.SCORED], "score it")
    parts = participants(s, rnd)
    subs = list(s.execute(select(PtSubmission).join(PtParticipant).where(PtParticipant.round_id == rnd.id)
                          .order_by(PtSubmission.id)).scalars())
    by_analyte: dict[int, list[PtSubmission]] = {}
    for sub in subs:
        by_analyte.setdefault(sub.round_analyte_id, []).append(sub)
    for old in s.execute(select(PtScore).where(PtScore.round_analyte_id.in_([a.id for a in rnd.analytes]))
                         ).scalars():
        s.delete(old)  # re-scoring: ORM deletes keep the earlier scores in the audit trail
    s.flush()
    score_rows: dict[int, PtScore] = {}
    outcomes = [_score_analyte(s, a, by_analyte.get(a.id, []), score_rows) for a in rnd.analytes]
    fn, fp = _judge_participants(rnd, parts, subs, score_rows)
    s.add_all(score_rows.values())
    transition(rnd, RoundStatus.SCORED)
    rnd.scored_at = now_utc(now)
    s.flush()
    classes = [r.classification for r in score_rows.values() if r.classification]
    return RoundScoring(
        round_code, tuple(outcomes), len(classes), classes.count(scores.SATISFACTORY),
        classes.count(scores.QUESTIONABLE), classes.count(scores.UNSATISFACTORY),
        sum(1 for r in score_rows.values() if r.en_action), fn, fp)


# ----------------------------------------------------------------------------------------------
# per analyte
# ----------------------------------------------------------------------------------------------

def _sigma_pt(a: PtRoundAnalyte, xpt: float, robust_sd: float | None) -> float:
    fixed = method_sigma(a, xpt)
    if fixed is not None:
        return fixed
    if robust_sd is None:
        raise ProficiencyError("σ_pt from the robust SD needs at least two differing results")
    return sigma.limited_sigma(robust_sd)


def _assign(a: PtRoundAnalyte, values: list[float]) -> tuple[float, float, float | None]:
    """(x_pt, u(x_pt), robust SD s*) for one analyte."""
    from proficiency import robust  # numpy: loaded when a round is scored, not with the web app

    est: robust.RobustEstimate | None = None
    if a.assigned_method == "consensus" or len(values) >= 2:
        try:
            est = robust.algorithm_a(values)
        except ProficiencyError:
            if a.assigned_method == "consensus":
                raise
    if a.assigned_method == "reference":
        assert a.reference_value is not None and a.reference_u is not None
        return a.reference_value, a.reference_u, est.scale if est else None
    assert est is not None
    return est.location, est.u_assigned, est.scale


def _score_analyte(s: Session, a: PtRoundAnalyte, rows: Sequence[PtSubmission],
                   score_rows: dict[int, PtScore]) -> AnalyteOutcome:
    """Clear the analyte's statistics, then (if it is in the test material) assign x_pt, u(x_pt) and
    σ_pt and score its numeric results into ``score_rows``; a statistics error names the analyte."""
    numeric = [sub for sub in rows if sub.result is not None]
    for attr in ("assigned_value", "u_assigned", "sigma_pt", "robust_sd", "statistic"):
        setattr(a, attr, None)
    a.n_results = len(numeric)
    if a.present:
        try:
            _assign_and_score(s, a, numeric, score_rows)
        except ProficiencyError as exc:
            raise InvalidInput(f"analyte {a.code}: {exc}", field=f"analytes.{a.code}") from None
    return AnalyteOutcome(
        a.code, a.present, len(numeric), a.assigned_value, a.u_assigned, a.sigma_pt, a.robust_sd, a.statistic,
        (a.homogeneity or {}).get("passed"), (a.stability or {}).get("passed"))


def _assign_and_score(s: Session, a: PtRoundAnalyte, numeric: Sequence[PtSubmission],
                      score_rows: dict[int, PtScore]) -> None:
    xpt, u, s_star = _assign(a, [float(sub.result) for sub in numeric if sub.result is not None])
    sig = _sigma_pt(a, xpt, s_star)
    a.assigned_value, a.u_assigned, a.sigma_pt, a.robust_sd = xpt, u, sig, s_star
    a.statistic = "z" if sigma.uncertainty_negligible(u, sig) else "z'"
    _recheck_items(s, a, sig)
    for sub in numeric:
        assert sub.result is not None
        ps = scores.score_result(sub.result, xpt, sig, u, expanded_u_result=sub.expanded_uncertainty,
                                 coverage_factor=sub.coverage_factor or 2.0)
        score_rows[sub.id] = PtScore(
            submission_id=sub.id, participant_id=sub.participant_id, round_analyte_id=a.id,
            d=ps.d, d_percent=ps.d_percent, z=ps.z, z_prime=ps.z_prime, statistic=ps.statistic,
            score=ps.score, classification=ps.classification, zeta=ps.zeta, en=ps.en,
            en_action=ps.en_action)


def _recheck_items(s: Session, a: PtRoundAnalyte, sig: float) -> None:
    """Repeat the homogeneity and stability checks with the round's σ_pt (Annex B uses σ_pt)."""
    from proficiency import homogeneity

    hom = measurements(s, a, "homogeneity")
    if hom:
        a.homogeneity = as_json(homogeneity.homogeneity_check(list(hom.values()), sig))
    before = [v for vs in measurements(s, a, "stability_before").values() for v in vs]
    after = [v for vs in measurements(s, a, "stability_after").values() for v in vs]
    if before and after:
        a.stability = as_json(homogeneity.stability_check(before, after, sig))


# ----------------------------------------------------------------------------------------------
# per participant
# ----------------------------------------------------------------------------------------------

def _judge_participants(rnd: PtRound, parts: Sequence[PtParticipant], subs: Sequence[PtSubmission],
                        score_rows: dict[int, PtScore]) -> tuple[int, int]:
    """Detections and combined scores of every participant; (false negatives, false positives) in all."""
    mrrl = {a.code: a.mrrl for a in rnd.analytes}
    assigned = {a.code: a.assigned_value for a in rnd.analytes if a.present and a.assigned_value is not None}
    code_of = {a.id: a.code for a in rnd.analytes}
    fn = fp = 0
    for p in parts:
        mine = [sub for sub in subs if sub.participant_id == p.id]
        if not mine:
            p.az2 = p.rsz = p.ssz = None
            p.false_negatives = p.false_positives = None
            continue
        summary = _judge_participant(p, mine, assigned, mrrl, code_of, score_rows)
        fn += summary.false_negatives
        fp += summary.false_positives
    return fn, fp


def _judge_participant(p: PtParticipant, mine: Sequence[PtSubmission], assigned: Mapping[str, float],
                       mrrl: Mapping[str, float], code_of: Mapping[int, str],
                       score_rows: dict[int, PtScore]) -> combined.DetectionSummary:
    """One participant's detection outcomes (a score row for every submission) and combined scores."""
    summary = combined.judge_detections(
        assigned, {code_of[sub.round_analyte_id]: sub.result for sub in mine}, mrrl,
        analytes=[code_of[sub.round_analyte_id] for sub in mine])
    outcome = {j.analyte: j.outcome for j in summary.judgements}
    for sub in mine:
        row = score_rows.get(sub.id) or PtScore(submission_id=sub.id, participant_id=p.id,
                                                 round_analyte_id=sub.round_analyte_id)
        row.detection = outcome[code_of[sub.round_analyte_id]]
        score_rows[sub.id] = row
    zs = [z for sub in mine if (z := score_rows[sub.id].score) is not None]
    if zs:
        p.az2 = combined.average_squared_z(zs)
        p.rsz = combined.rescaled_sum_z(zs)
        p.ssz = combined.sum_squared_z(zs)
    else:
        p.az2 = p.rsz = p.ssz = None
    p.false_negatives, p.false_positives = summary.false_negatives, summary.false_positives
    return summary
