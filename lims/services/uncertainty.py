"""A result's expanded measurement uncertainty from the laboratory's own data, with its source on it.

Top-down (Nordtest TR 537 ed. 4; EURACHEM/CITAC CG4 3rd ed. §7.7), per method × analyte × matrix:

1. ``validation`` — the method's validation study for the analyte in the sample's commodity (else the
   study for all matrices): u(Rw) = intermediate-precision RSD, u(bias) = √((R̄ − 100)² + s²/n + u(Cref)²).
2. ``qc_history`` — at least :data:`MIN_QC_RECOVERIES` spike recoveries of the method and analyte in the
   lab's batches: u(Rw) = SD of the recoveries; u(bias) = √(RMS_bias² + u(Cref)²) from the lab's PT results
   for the analyte by the method when there are at least :data:`MIN_PT_RESULTS` (bias (x − x_pt)/x_pt,
   u(Cref) the mean relative u(x_pt), TR 537 §5.2), else from the recoveries with the method's spike
   u(Cref) (§5.3).
3. ``default_sante_50`` — no laboratory data: the SANTE/11312/2021 default U = 50 % (k = 2), flagged.

The choice and its components go into ``result.details["uncertainty"]`` (source, labels, u(Rw), u(bias),
u_c, U in %, the validation study or the QC samples used), so the report and the review screen can say
where U came from.
"""

from __future__ import annotations

import statistics

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.uncertainty import (
    Uncertainty,
    expanded_uncertainty,
    top_down,
    top_down_uncertainty,
    u_bias_from_biases,
    u_bias_from_validation,
)
from lims.db.models import Analysis, Analyte, Batch, QcSample, Result
from lims.db.models_pt import PtExternalScore, PtParticipation
from lims.services.method_data import method_qc_row, validation_for
from lims.vocabulary import QcKind, UncertaintySource

#: Fewest PT results from which the bias is taken (else the spike recoveries give it).
MIN_PT_RESULTS = 3
#: Fewest spike recoveries from which long-run QC gives u(Rw) and u(bias) (Nordtest TR 537 asks for
#: data covering the lab's normal variation; eight batches is this lab's floor).
MIN_QC_RECOVERIES = 8


def result_uncertainty(s: Session, result: Result, value_mg_kg: float) -> Uncertainty:
    """U of ``value_mg_kg`` for the result's method × analyte × matrix; its source is written on the result."""
    analysis = result.analysis
    method_id, analyte_id = analysis.method_id, analysis.analyte_id
    study = validation_for(s, method_id, analyte_id, analysis.sample.commodity_id)
    trail: dict[str, object]
    if study is not None:
        u_bias = u_bias_from_validation(study.recovery_mean_percent, study.recovery_sd_percent, study.recovery_n,
                                        study.u_cref_percent)
        unc = top_down_uncertainty(value_mg_kg, top_down(study.rsd_rw_percent, u_bias), UncertaintySource.VALIDATION)
        trail = {"validation_id": study.id, "reference": study.reference,
                 "matrix": "commodity" if study.commodity_id is not None else "all_matrices"}
    else:
        unc, trail = _from_qc_history(s, method_id, analyte_id, value_mg_kg)
    source = UncertaintySource(unc.source)
    details = dict(result.details or {})
    details["uncertainty"] = {
        "source": source.value, "source_zh": source.label(), "source_en": source.label("en"),
        "is_default": source == UncertaintySource.DEFAULT_SANTE_50,
        "u_rw_percent": unc.components["u_Rw"] * 100.0 if "u_Rw" in unc.components else None,
        "u_bias_percent": unc.components["u_bias"] * 100.0 if "u_bias" in unc.components else None,
        "combined_percent": unc.combined_relative * 100.0, "expanded_percent": unc.expanded_relative * 100.0,
        "k": unc.k, **trail}
    result.details = details
    return unc


def _from_qc_history(s: Session, method_id: int, analyte_id: int,
                     value_mg_kg: float) -> tuple[Uncertainty, dict[str, object]]:
    rows = s.execute(select(QcSample.id, QcSample.metric).join(Batch, Batch.id == QcSample.batch_id).where(
        Batch.method_id == method_id, QcSample.analyte_id == analyte_id, QcSample.kind == QcKind.SPIKE,
        QcSample.metric.is_not(None)).order_by(QcSample.id)).all()
    spikes = [(int(i), float(m)) for i, m in rows if m is not None]
    recoveries = [m for _, m in spikes]
    if len(recoveries) < MIN_QC_RECOVERIES:
        return expanded_uncertainty(value_mg_kg), {"qc_recoveries_available": len(recoveries)}
    u_rw = statistics.stdev(recoveries)
    pt = _pt_biases(s, method_id, analyte_id)
    if len(pt) >= MIN_PT_RESULTS:  # bias from proficiency testing (Nordtest TR 537 §5.2)
        biases = [b for _, b, _ in pt]
        u_cref = statistics.fmean(u for _, _, u in pt)
        basis: dict[str, object] = {"bias_basis": "proficiency_testing", "pt_score_ids": [i for i, _, _ in pt],
                                    "u_cref_percent": u_cref}
    else:  # bias from the spike recoveries themselves (TR 537 §5.3)
        settings = method_qc_row(s, method_id)
        stated = settings is not None and settings.spike_u_cref_percent is not None
        u_cref = settings.spike_u_cref_percent if settings is not None and settings.spike_u_cref_percent is not None \
            else 0.0
        biases = [r - 100.0 for r in recoveries]
        basis = {"bias_basis": "spike_recovery", "u_cref_percent": u_cref, "u_cref_stated": stated}
    u_bias = u_bias_from_biases(biases, u_cref)
    unc = top_down_uncertainty(value_mg_kg, top_down(u_rw, u_bias), UncertaintySource.QC_HISTORY)
    return unc, {"qc_sample_ids": [i for i, _ in spikes], **basis}


def _pt_biases(s: Session, method_id: int, analyte_id: int) -> list[tuple[int, float, float]]:
    """(score id, relative bias %, u(x_pt) %) of the lab's PT results for the analyte measured by the method
    (the PT sample was registered and analysed by this method; the provider's analyte name matches)."""
    analyte = s.get(Analyte, analyte_id)
    if analyte is None:
        return []
    names = {analyte.name_zh, analyte.name_en, analyte.code}
    rows = s.execute(select(PtExternalScore.id, PtExternalScore.result, PtExternalScore.assigned_value,
                            PtExternalScore.u_assigned)
                     .join(PtParticipation, PtParticipation.id == PtExternalScore.participation_id)
                     .join(Analysis, Analysis.sample_id == PtParticipation.sample_id)
                     .where(Analysis.method_id == method_id, Analysis.analyte_id == analyte_id,
                            PtExternalScore.analyte.in_(names), PtExternalScore.assigned_value > 0)
                     .distinct().order_by(PtExternalScore.id)).all()
    return [(int(i), (float(x) - float(a)) / float(a) * 100.0, float(u or 0.0) / float(a) * 100.0)
            for i, x, a, u in rows]
