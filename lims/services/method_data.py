"""A method's quantitation data: its calibration strategy, batch-QC limits and identification rule
(``method_qc``), and its validation data per analyte × matrix (``method_validation``).

A method without a ``method_qc`` row is judged by the SANTE/11312/2021 v2 routine defaults
(:data:`calibration.qc.SANTE_ROUTINE_LIMITS`: recovery 60–140 %, CCV ±20 %, blank ≤ 30 % of the
reporting limit; duplicate RPD ≤ 20 % as the lab's criterion) with external-standard calibration and no
identification rule. LC-MS/MS and GC-MS methods set ``identification`` to ``sante`` or ``gb23200``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.errors import CalibrationError
from calibration.qc import SANTE_ROUTINE_LIMITS, QcLimits
from lims.db.models import Analyte, Commodity, Method
from lims.db.models_method import MethodQc, MethodValidation
from lims.services.errors import InvalidInput
from lims.services.lookup import known_by_code
from lims.vocabulary import CalibrationStrategy

_LIMIT_FIELDS = tuple(f.name for f in fields(QcLimits))


def method_qc_row(s: Session, method_id: int) -> MethodQc | None:
    return s.execute(select(MethodQc).where(MethodQc.method_id == method_id)).scalars().first()


def qc_limits(s: Session, method_id: int) -> QcLimits:
    """The method's QC limits (its method_qc row, else the SANTE routine defaults)."""
    row = method_qc_row(s, method_id)
    if row is None:
        return SANTE_ROUTINE_LIMITS
    return QcLimits(**{name: getattr(row, name) for name in _LIMIT_FIELDS})


def calibration_strategy(s: Session, method_id: int) -> CalibrationStrategy:
    row = method_qc_row(s, method_id)
    return CalibrationStrategy(row.calibration_strategy) if row else CalibrationStrategy.EXTERNAL_STANDARD


@dataclass(frozen=True)
class MethodQcSettings:
    """What a lab sets for a method (None: keep the current value, or the SANTE default for a new row)."""

    calibration_strategy: str | None = None
    recovery_min_percent: float | None = None
    recovery_max_percent: float | None = None
    duplicate_max_rpd_percent: float | None = None
    ccv_max_drift_percent: float | None = None
    blank_max_fraction_of_rl: float | None = None
    reference_max_bias_percent: float | None = None
    identification: str | None = None
    rt_tolerance_min: float | None = None
    rt_tolerance_percent: float | None = None
    ion_ratio_tolerance_percent: float | None = None
    spike_u_cref_percent: float | None = None
    source: str | None = None


def set_method_qc(s: Session, method_code: str, settings: MethodQcSettings) -> MethodQc:
    """Create or change a method's quantitation settings (audited like every row); all checked first."""
    method = known_by_code(s, Method, method_code, field="method_code")
    row = method_qc_row(s, method.id)
    current = qc_limits(s, method.id)
    merged = {name: getattr(settings, name) if getattr(settings, name) is not None else getattr(current, name)
              for name in _LIMIT_FIELDS}
    try:
        QcLimits(**merged)
    except CalibrationError as exc:
        raise InvalidInput(str(exc), field=exc.field) from None
    strategy = settings.calibration_strategy or (row.calibration_strategy if row else None) or "external_standard"
    if strategy not in CalibrationStrategy.labels():
        raise InvalidInput(f"unknown calibration strategy {strategy!r}; one of "
                           f"{', '.join(CalibrationStrategy.labels())}", field="calibration_strategy")
    u_cref = settings.spike_u_cref_percent
    if u_cref is not None and (not math.isfinite(u_cref) or u_cref < 0):
        raise InvalidInput("spike u(Cref) must be a number ≥ 0 (%)", field="spike_u_cref_percent")
    if row is None:
        row = MethodQc(method_id=method.id, source="")
        s.add(row)
    for name, value in merged.items():
        setattr(row, name, value)
    row.calibration_strategy = strategy
    if u_cref is not None:
        row.spike_u_cref_percent = u_cref
    if settings.source is not None:
        row.source = settings.source
    s.flush()
    return row


@dataclass(frozen=True)
class ValidationData:
    """One validation study of a method for an analyte in a matrix (commodity code, or None: all)."""

    method_code: str
    analyte_code: str
    commodity_code: str | None
    recovery_mean_percent: float
    recovery_sd_percent: float
    recovery_n: int
    rsd_rw_percent: float
    u_cref_percent: float = 0.0
    level_mg_kg: float | None = None
    validated_on: dt.date | None = None
    reference: str = ""


def _check_validation(v: ValidationData) -> None:
    for name in ("recovery_mean_percent", "recovery_sd_percent", "rsd_rw_percent", "u_cref_percent"):
        x = getattr(v, name)
        if not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise InvalidInput(f"{name} must be a number ≥ 0 (got {x!r})", field=name)
    if v.recovery_mean_percent <= 0:
        raise InvalidInput("mean recovery must be > 0 %", field="recovery_mean_percent")
    if v.recovery_n < 2:
        raise InvalidInput("a validation study needs at least 2 recovery replicates", field="recovery_n")
    if v.level_mg_kg is not None and (not math.isfinite(v.level_mg_kg) or v.level_mg_kg <= 0):
        raise InvalidInput("the validation level must be > 0 mg/kg", field="level_mg_kg")
    if not v.reference.strip():
        raise InvalidInput("name the validation report the data come from", field="reference")


def record_validation(s: Session, v: ValidationData) -> MethodValidation:
    """Store a validation study (one per method × analyte × matrix; a second one is refused)."""
    _check_validation(v)
    method = known_by_code(s, Method, v.method_code, field="method_code")
    analyte = known_by_code(s, Analyte, v.analyte_code, field="analyte_code")
    commodity = known_by_code(s, Commodity, v.commodity_code, field="commodity_code") if v.commodity_code else None
    if validation_for(s, method.id, analyte.id, commodity.id if commodity else None, exact=True) is not None:
        raise InvalidInput(f"{v.method_code} × {v.analyte_code} × {v.commodity_code or 'all matrices'} already has "
                           "validation data", field="commodity_code")
    row = MethodValidation(method_id=method.id, analyte_id=analyte.id, commodity_id=commodity.id if commodity else None,
                           level_mg_kg=v.level_mg_kg, recovery_mean_percent=float(v.recovery_mean_percent),
                           recovery_sd_percent=float(v.recovery_sd_percent), recovery_n=int(v.recovery_n),
                           rsd_rw_percent=float(v.rsd_rw_percent), u_cref_percent=float(v.u_cref_percent),
                           validated_on=v.validated_on, reference=v.reference.strip())
    s.add(row)
    s.flush()
    return row


def validation_for(s: Session, method_id: int, analyte_id: int, commodity_id: int | None, *,
                   exact: bool = False) -> MethodValidation | None:
    """The validation study for the matrix itself, else the method × analyte study for all matrices."""
    q = select(MethodValidation).where(MethodValidation.method_id == method_id,
                                       MethodValidation.analyte_id == analyte_id)
    rows = s.execute(q.order_by(MethodValidation.id)).scalars().all()
    own = [r for r in rows if r.commodity_id == commodity_id and commodity_id is not None]
    if own or exact:
        return own[0] if own else next((r for r in rows if r.commodity_id is None and commodity_id is None), None)
    return next((r for r in rows if r.commodity_id is None), None)
