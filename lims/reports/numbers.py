"""Numbers as the lab reports them: a result at its method's reporting precision, LOD/LOQ with their unit.

- Precision is method data (``method.report_figures`` / ``report_decimals``, overridden per analyte on
  ``method_scope``); with neither set, the SANTE/11312/2021 default: results < 10 mg/kg to 2 significant
  figures, ≥ 10 mg/kg to 3 (the threshold is judged on the value in mg/kg, whatever unit it is printed in).
- Rounding is GB/T 8170-2008 ("四舍六入五成双", round half to even on the decisive digit), done by
  :func:`calibration.quantify.round_gb8170` on the decimal text, never on binary floats.
- Rounding is for the report, the UI and upstream messages; the database keeps full precision.

Pure: no database, no web.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from calibration.errors import CalibrationError
from calibration.quantify import round_gb8170
from lims import units

#: SANTE/11312/2021 (v2) reporting of results: 2 significant figures below 10 mg/kg, 3 from 10 mg/kg.
SANTE_THRESHOLD_MG_KG = Decimal(10)
SANTE_FIGURES_BELOW, SANTE_FIGURES_FROM = 2, 3


class PrecisionError(ValueError):
    """A reporting precision that cannot apply (both figures and decimals, or a non-positive count)."""


@dataclass(frozen=True)
class Precision:
    """How a result is reported: ``figures`` significant figures, or ``decimals`` decimals in the result's
    unit; neither = the SANTE default. ``source`` says where the rule came from (shown on request)."""

    figures: int | None = None
    decimals: int | None = None
    source: str = "SANTE/11312/2021"

    def __post_init__(self) -> None:
        if self.figures is not None and self.decimals is not None:
            raise PrecisionError("give significant figures or decimals, not both")
        if self.figures is not None and self.figures < 1:
            raise PrecisionError(f"significant figures must be ≥ 1 (got {self.figures})")
        if self.decimals is not None and self.decimals < 0:
            raise PrecisionError(f"decimals must be ≥ 0 (got {self.decimals})")


SANTE_DEFAULT = Precision()


def precision_of(method_figures: int | None, method_decimals: int | None, scope_figures: int | None = None,
                 scope_decimals: int | None = None, *, method_code: str = "") -> Precision:
    """The precision of one analyte in one method: the analyte's own (method scope) over the method's."""
    if scope_figures is not None or scope_decimals is not None:
        return Precision(scope_figures, scope_decimals, f"{method_code} × analyte".strip())
    if method_figures is not None or method_decimals is not None:
        return Precision(method_figures, method_decimals, method_code or "method")
    return SANTE_DEFAULT


def _sante_figures(value: float, unit: str) -> int:
    mg_kg = units.to_mg_per_kg(value, unit) if units.is_mass_fraction(unit) else value
    return SANTE_FIGURES_BELOW if abs(Decimal(repr(float(mg_kg)))) < SANTE_THRESHOLD_MG_KG else SANTE_FIGURES_FROM


def round_reported(value: float, unit: str, precision: Precision = SANTE_DEFAULT) -> Decimal:
    """``value`` (in ``unit``) rounded as reported (GB/T 8170 half-even at the method's precision)."""
    try:
        if precision.decimals is not None:
            return round_gb8170(value, decimals=precision.decimals)
        figures = precision.figures or _sante_figures(value, unit)
        rounded = round_gb8170(value, figures=figures)
        if rounded and rounded.adjusted() > Decimal(repr(float(value))).adjusted():
            # a carry into a new decade (9.96 → 10.0) leaves one figure too many: keep ``figures``
            rounded = round_gb8170(rounded, figures=figures)
        return rounded
    except CalibrationError as exc:
        raise PrecisionError(f"{value!r} {unit}: {exc}") from None


def reported_text(value: float, unit: str, precision: Precision = SANTE_DEFAULT) -> str:
    """The printed number: "0.094", "12.0", "0.00050" (trailing zeros kept: they are significant)."""
    return format(round_reported(value, unit, precision), "f")


def reported_number(value: float | None, unit: str, precision: Precision = SANTE_DEFAULT) -> float | None:
    """The reported value as a JSON number (the rounded decimal's nearest float); None stays None."""
    if value is None:
        return None
    return float(round_reported(value, unit, precision))


def limit_text(value: float | None, unit: str) -> str | None:
    """An LOD/LOQ as printed, with its unit ("0.005 mg/kg", "0.25 µg/kg"); None when not stated."""
    if value is None:
        return None
    return f"{format(Decimal(repr(float(value))).normalize(), 'f')} {unit}"
