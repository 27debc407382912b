"""From extract to sample, rounding and reporting.

- mg/kg in the sample = c_extract (mg/L) × V_extract (mL) × dilution / m_sample (g)
  (mg/L·mL/g = µg/g = mg/kg), optionally ÷ (recovery %/100) where the method says so.
- Rounding: SANTE/11312/2021 v2 — results < 10 mg/kg to 2 significant figures, ≥ 10 mg/kg to 3;
  GB/T 8170-2008 §3 — "四舍六入五成双" (round half to even on the exact decimal string,
  a 5 followed by non-zero digits rounds up). Done with ``decimal`` on the decimal text, never on
  binary floats.
- Reporting: a value below the LOD is "not detected (< LOD)", below the LOQ "< LOQ".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from calibration.errors import CalibrationError


def sample_concentration_mg_kg(extract_concentration_mg_l: float, extract_volume_ml: float, sample_mass_g: float,
                               dilution_factor: float = 1.0, recovery_percent: float | None = None) -> float:
    """Concentration in the sample (mg/kg) from the extract concentration (mg/L ≡ µg/mL)."""
    for name, v in (("extract_volume_ml", extract_volume_ml), ("sample_mass_g", sample_mass_g),
                    ("dilution_factor", dilution_factor)):
        if not math.isfinite(v) or v <= 0:
            raise CalibrationError(f"{name} must be a positive number (got {v!r})", field=name)
    if not math.isfinite(extract_concentration_mg_l):
        raise CalibrationError("extract concentration is not a finite number", field="concentration")
    c = extract_concentration_mg_l * extract_volume_ml * dilution_factor / sample_mass_g
    if recovery_percent is not None:
        if not math.isfinite(recovery_percent) or recovery_percent <= 0:
            raise CalibrationError(f"recovery_percent must be > 0 (got {recovery_percent!r})", field="recovery")
        c = c * 100.0 / recovery_percent
    return c


def _to_decimal(value: float | str | Decimal) -> Decimal:
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise CalibrationError(f"not a decimal number: {value!r}") from None
    if not d.is_finite():
        raise CalibrationError(f"not a finite number: {value!r}")
    return d


def round_significant(value: float | str | Decimal, figures: int, *, half_even: bool = True) -> Decimal:
    """Round to ``figures`` significant figures on the decimal representation (half-even by default)."""
    if figures < 1:
        raise CalibrationError(f"significant figures must be ≥ 1 (got {figures})")
    d = _to_decimal(value)
    if d == 0:
        return Decimal(0).quantize(Decimal(1).scaleb(-(figures - 1)))
    exp = d.adjusted() - figures + 1
    return d.quantize(Decimal(1).scaleb(exp), rounding=ROUND_HALF_EVEN if half_even else ROUND_HALF_UP)


def round_gb8170(value: float | str | Decimal, *, decimals: int | None = None,
                 figures: int | None = None) -> Decimal:
    """GB/T 8170-2008 rounding ("四舍六入五成双") to a number of decimals or significant figures.

    Pass the value as a decimal string where it came from text: a float is converted through its
    shortest repr (e.g. 2.675 stays "2.675", so it rounds to 2.68 at two decimals).
    """
    if (decimals is None) == (figures is None):
        raise CalibrationError("give exactly one of decimals or figures")
    if figures is not None:
        return round_significant(value, figures, half_even=True)
    assert decimals is not None
    return _to_decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)


def round_sante(value_mg_kg: float | str | Decimal) -> Decimal:
    """SANTE/11312/2021: < 10 mg/kg → 2 significant figures, ≥ 10 mg/kg → 3 (GB/T 8170 half-even)."""
    d = _to_decimal(value_mg_kg)
    return round_significant(d, 2 if abs(d) < 10 else 3)


@dataclass(frozen=True)
class ReportedResult:
    """What goes on the report: ``text`` as printed, ``value`` (rounded) or None, ``qualifier``."""

    text: str
    value: Decimal | None
    qualifier: str  # "value" | "<LOQ" | "ND"


def report_value(value_mg_kg: float, lod_mg_kg: float | None, loq_mg_kg: float | None) -> ReportedResult:
    """Result text for a report: "not detected (< LOD)", "< LOQ (q)" or the SANTE-rounded value."""
    if lod_mg_kg is not None and loq_mg_kg is not None and lod_mg_kg > loq_mg_kg:
        raise CalibrationError(f"LOD {lod_mg_kg} is above LOQ {loq_mg_kg}")
    if lod_mg_kg is not None and value_mg_kg < lod_mg_kg:
        return ReportedResult(f"not detected (< LOD {round_sante(lod_mg_kg)})", None, "ND")
    if loq_mg_kg is not None and value_mg_kg < loq_mg_kg:
        return ReportedResult(f"< LOQ ({round_sante(loq_mg_kg)})", None, "<LOQ")
    v = round_sante(value_mg_kg)
    return ReportedResult(format(v, "f"), v, "value")
