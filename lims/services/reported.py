"""A stored result as the lab reports it: the value at its method's precision (GB/T 8170 rounding, see
:mod:`lims.reports.numbers`), LOD/LOQ with their unit. One function per question, used by the report,
the read models of the UI and REST, and the upstream payload; the database keeps full precision."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from calibration.quantify import round_gb8170, sample_concentration_mg_kg
from lims import units
from lims.db.models import Analysis, Analyte, Method, MethodScope, Result
from lims.reports.numbers import Precision, limit_text, precision_of, reported_number, reported_text
from lims.vocabulary import AnalysisKind


def precision_for(s: Session, analysis: Analysis) -> Precision:
    """The reporting precision of the analysis's analyte in its method (method scope over method)."""
    method = analysis.method
    scope = s.execute(select(MethodScope).where(MethodScope.method_id == analysis.method_id,
                                                MethodScope.analyte_id == analysis.analyte_id)).scalars().first()
    return precision_of(method.report_figures, method.report_decimals,
                        scope.report_figures if scope else None, scope.report_decimals if scope else None,
                        method_code=method.code)


def is_reported_number(r: Result) -> bool:
    """A quantitative confirmatory value in a mass fraction: the number is printed at its precision."""
    return (r.value is not None and r.analysis.kind != AnalysisKind.SCREENING and units.is_mass_fraction(r.unit)
            and not r.qualitative)


def value_text(s: Session, r: Result) -> str:
    """The value as printed: the rounded number, or the stored text ("未检出（<0.005）", screening calls)."""
    if is_reported_number(r):
        assert r.value is not None
        return reported_text(r.value, r.unit, precision_for(s, r.analysis))
    return r.value_text or "—"


def value_number(s: Session, r: Result) -> float | None:
    """The reported value as a number (rounded as printed), or the stored value when it is no reported
    mass fraction (e.g. an inhibition %)."""
    if is_reported_number(r):
        return reported_number(r.value, r.unit, precision_for(s, r.analysis))
    return r.value


def lod_loq_text(r: Result) -> tuple[str | None, str | None]:
    """LOD and LOQ as printed, each with its unit (the result's)."""
    return limit_text(r.lod, r.unit), limit_text(r.loq, r.unit)


def _precision_by_codes(s: Session, method_code: str, analyte_code: str) -> Precision:
    """The precision of (method, analyte) by their codes, cached on the session (a list page asks per row)."""
    cache: dict[tuple[str, str], Precision] = s.info.setdefault("lims.reported.precision", {})
    key = (method_code, analyte_code)
    if key not in cache:
        method = s.execute(select(Method.report_figures, Method.report_decimals)
                           .where(Method.code == method_code)).first()
        scope = s.execute(select(MethodScope.report_figures, MethodScope.report_decimals)
                          .join(Method, Method.id == MethodScope.method_id)
                          .join(Analyte, Analyte.id == MethodScope.analyte_id)
                          .where(Method.code == method_code, Analyte.code == analyte_code)).first()
        cache[key] = precision_of(method[0] if method else None, method[1] if method else None,
                                  scope[0] if scope else None, scope[1] if scope else None, method_code=method_code)
    return cache[key]


def row_texts(s: Session, row: dict[str, object]) -> dict[str, str | None]:
    """For a result row as listed (``method``/``analyte_code`` codes, ``kind``, ``value``, ``unit``): the value
    as reported and LOD/LOQ with their unit (``reported_text``, ``lod_text``, ``loq_text``)."""
    value, unit = row.get("value"), str(row.get("unit") or "")
    text = str(row.get("value_text") or "") or None
    if (isinstance(value, int | float) and row.get("kind") != AnalysisKind.SCREENING
            and units.is_mass_fraction(unit) and not row.get("qualitative")):
        text = reported_text(float(value), unit, _precision_by_codes(s, str(row["method"]), str(row["analyte_code"])))
    lod, loq = row.get("lod"), row.get("loq")
    return {"reported_text": text,
            "lod_text": limit_text(float(lod), unit) if isinstance(lod, int | float) else None,
            "loq_text": limit_text(float(loq), unit) if isinstance(loq, int | float) else None}


def curve_limit_text(value_mg_l: float | None, preps: set[tuple[float, float, float]]) -> str | None:
    """A curve's LOD/LOQ (mg/L of extract) with its unit and, when the batch's analyses share one preparation
    (sample mass g, extract volume mL, dilution), in the result unit mg/kg of the sample (2 significant
    figures, GB/T 8170): "0.0019 mg/L（提取液 extract）≈ 0.0038 mg/kg"."""
    if value_mg_l is None:
        return None
    text = f"{format(round_gb8170(value_mg_l, figures=2), 'f')} mg/L（提取液 extract）"
    if len(preps) == 1:
        ((mass_g, volume_ml, dilution),) = preps
        mg_kg = sample_concentration_mg_kg(value_mg_l, volume_ml, mass_g, dilution)
        text += f" ≈ {format(round_gb8170(mg_kg, figures=2), 'f')} {units.MG_PER_KG}"
    return text


def qc_value_text(value: float | None, unit: str | None) -> str | None:
    """A QC sample's nominal or measured value as shown: SANTE precision for a mass fraction (a spike found
    at 0.09400122681461558 mg/kg shows 0.094), 3 significant figures otherwise (GB/T 8170)."""
    if value is None:
        return None
    if unit and units.is_mass_fraction(unit):
        return reported_text(value, unit)
    return format(round_gb8170(value, figures=3), "f")
