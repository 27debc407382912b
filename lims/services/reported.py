"""A stored result as the lab reports it: the value at its method's precision (GB/T 8170 rounding, see
:mod:`lims.reports.numbers`), LOD/LOQ with their unit. One function per question, used by the report,
the read models of the UI and REST, and the upstream payload; the database keeps full precision."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import units
from lims.db.models import Analysis, MethodScope, Result
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
