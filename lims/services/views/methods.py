"""A method's quantitation data as shown: calibration strategy, batch-QC limits and identification rule
(with where they come from), and its validation studies with the expanded uncertainty each gives
(Nordtest TR 537 top-down, :mod:`lims.services.uncertainty`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from calibration.uncertainty import top_down, u_bias_from_validation
from lims.db.models import Analyte, Commodity, Method
from lims.db.models_method import MethodValidation
from lims.services.lookup import get_by_code
from lims.services.method_data import calibration_strategy, method_qc_row, qc_limits

_IDENTIFICATION_ZH = {"none": "不作确证鉴定（非质谱检测器）", "sante": "SANTE/11312/2021：保留时间 ±0.1 min，离子比 ±30 %",
                      "gb23200": "GB 23200：保留时间 ±2.5 %，离子丰度比按相对丰度分档（±20/25/30/50 %）"}
_IDENTIFICATION_EN = {"none": "no identity confirmation (not a mass-spectrometric detector)",
                      "sante": "SANTE/11312/2021: RT ±0.1 min, ion ratio ±30 % relative",
                      "gb23200": "GB 23200: RT ±2.5 %, ion-ratio tolerance by relative abundance (±20/25/30/50 %)"}


class QcLimitsShown(TypedDict):
    recovery_min_percent: float
    recovery_max_percent: float
    duplicate_max_rpd_percent: float
    ccv_max_drift_percent: float
    blank_max_fraction_of_rl: float
    reference_max_bias_percent: float
    identification: str
    #: The method's own windows (None: the rule's).
    rt_tolerance_min: float | None
    rt_tolerance_percent: float | None
    ion_ratio_tolerance_percent: float | None
    identification_zh: str
    identification_en: str
    #: True when the method has no settings of its own (the SANTE routine defaults apply).
    defaults: bool
    source: str


class ValidationShown(TypedDict):
    id: int
    analyte_code: str
    analyte: str
    commodity_code: str | None
    commodity: str | None
    level_mg_kg: float | None
    recovery_mean_percent: float
    recovery_sd_percent: float
    recovery_n: int
    rsd_rw_percent: float
    u_cref_percent: float
    u_bias_percent: float
    combined_percent: float
    expanded_percent: float
    validated_on: str | None
    reference: str


class MethodQuantitation(TypedDict):
    method_code: str
    calibration_strategy: str
    calibration_strategy_zh: str
    calibration_strategy_en: str
    qc_limits: QcLimitsShown
    validation: list[ValidationShown]


def _validation_shown(s: Session, v: MethodValidation) -> ValidationShown:
    analyte = s.get(Analyte, v.analyte_id)
    commodity = s.get(Commodity, v.commodity_id) if v.commodity_id is not None else None
    assert analyte is not None
    u_bias = u_bias_from_validation(v.recovery_mean_percent, v.recovery_sd_percent, v.recovery_n, v.u_cref_percent)
    est = top_down(v.rsd_rw_percent, u_bias)
    on: dt.date | None = v.validated_on
    return {"id": v.id, "analyte_code": analyte.code, "analyte": analyte.name_zh,
            "commodity_code": commodity.code if commodity else None, "commodity": commodity.name_zh if commodity else None,
            "level_mg_kg": v.level_mg_kg, "recovery_mean_percent": v.recovery_mean_percent,
            "recovery_sd_percent": v.recovery_sd_percent, "recovery_n": v.recovery_n,
            "rsd_rw_percent": v.rsd_rw_percent, "u_cref_percent": v.u_cref_percent, "u_bias_percent": u_bias,
            "combined_percent": est.combined_percent, "expanded_percent": est.expanded_percent,
            "validated_on": on.isoformat() if on else None, "reference": v.reference}


def method_quantitation(s: Session, method_code: str) -> MethodQuantitation:
    """The method's strategy, QC limits, identification rule and validation studies."""
    method = get_by_code(s, Method, method_code, field="method_code")
    lim = qc_limits(s, method.id)
    row = method_qc_row(s, method.id)
    strategy = calibration_strategy(s, method.id)
    studies = s.execute(select(MethodValidation).where(MethodValidation.method_id == method.id)
                        .order_by(MethodValidation.id)).scalars().all()
    return {"method_code": method.code, "calibration_strategy": strategy.value,
            "calibration_strategy_zh": strategy.label(), "calibration_strategy_en": strategy.label("en"),
            "qc_limits": {"recovery_min_percent": lim.recovery_min_percent,
                          "recovery_max_percent": lim.recovery_max_percent,
                          "duplicate_max_rpd_percent": lim.duplicate_max_rpd_percent,
                          "ccv_max_drift_percent": lim.ccv_max_drift_percent,
                          "blank_max_fraction_of_rl": lim.blank_max_fraction_of_rl,
                          "reference_max_bias_percent": lim.reference_max_bias_percent,
                          "identification": lim.identification,
                          "rt_tolerance_min": lim.rt_tolerance_min,
                          "rt_tolerance_percent": lim.rt_tolerance_percent,
                          "ion_ratio_tolerance_percent": lim.ion_ratio_tolerance_percent,
                          "identification_zh": _IDENTIFICATION_ZH[lim.identification],
                          "identification_en": _IDENTIFICATION_EN[lim.identification],
                          "defaults": row is None,
                          "source": row.source if row is not None and row.source else
                          "SANTE/11312/2021 v2 routine QC (default)"},
            "validation": [_validation_shown(s, v) for v in studies]}
