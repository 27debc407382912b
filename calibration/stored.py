"""A standard-curve fit as a stored record, and inversion from that record alone.

A certified result must depend on the curve version it names, not on the fitting code of the day it is
(re)computed (ISO/IEC 17025 7.5, 7.11.2; 21 CFR 11.10(e)). :func:`stored_fit` turns a
:class:`~calibration.curves.CurveFit` into a JSON-able record holding everything inversion needs: the
model and weighting, the parameters in the model's order, their covariance, the residual SD and degrees
of freedom, and the calibration points and weights as the fit used them (they give the calibrated range,
the quadratic root choice and the weight of a new reading). :func:`from_stored` rebuilds the fit from the
record without fitting anything; :func:`invert_stored` is inverse prediction on that rebuilt fit, so a
stored record inverts to the very numbers the original fit gave (tests/calibration/test_stored.py).

Floats survive a JSON round trip exactly (Python writes the shortest repr that reads back to the same
double), so nothing is lost in the database. Non-finite values (an R² of a flat curve, an infinite RSD)
are written as null and read back as NaN.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from calibration.curves import WEIGHTS, CurveFit, Prediction, inverse_predict
from calibration.errors import CalibrationError
from calibration.models import curve_model

#: Version of the record layout; a reader refuses records of a layout it does not know.
STORED_FIT_FORMAT = 1


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def stored_fit(fit: CurveFit) -> dict[str, Any]:
    """The record of ``fit`` (JSON types only: str, int, float, None, lists and dicts)."""
    names = list(fit.curve_model.param_names)
    return {
        "format": STORED_FIT_FORMAT,
        "model": fit.model,
        "weight": fit.weight,
        "param_names": names,
        "params": [float(fit.params[k]) for k in names],
        "stderr": [_finite_or_none(fit.stderr[k]) for k in names],
        "covariance": [[float(c) for c in row] for row in fit.covariance],
        "rss": float(fit.rss),
        "residual_sd": float(fit.residual_sd),
        "r2": _finite_or_none(fit.r2),
        "n": int(fit.n),
        "dof": int(fit.dof),
        "concentrations": [float(v) for v in fit.concentrations],
        "responses": [float(v) for v in fit.responses],
        "weights": [float(v) for v in fit.weights],
        "levels": [float(v) for v in fit.levels],
        "converged": bool(fit.converged),
        "iterations": int(fit.iterations),
        "extras": {k: _finite_or_none(v) for k, v in fit.extras.items()},
    }


def fit_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON: a result names the exact fit it was computed from."""
    body = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _numbers(record: Mapping[str, Any], key: str, length: int | None = None,
             allow_null: bool = False) -> list[float]:
    raw = record.get(key)
    if not isinstance(raw, list):
        raise CalibrationError(f"stored fit: {key} must be a list", field=key)
    if length is not None and len(raw) != length:
        raise CalibrationError(f"stored fit: {key} has {len(raw)} values, expected {length}", field=key)
    out: list[float] = []
    for i, v in enumerate(raw):
        if v is None and allow_null:
            out.append(math.nan)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise CalibrationError(f"stored fit: {key}[{i}] is not a finite number ({v!r})", point=i, field=key)
        out.append(float(v))
    return out


def _number(record: Mapping[str, Any], key: str, *, allow_null: bool = False) -> float:
    v = record.get(key)
    if v is None and allow_null:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise CalibrationError(f"stored fit: {key} is not a finite number ({v!r})", field=key)
    return float(v)


def _integer(record: Mapping[str, Any], key: str) -> int:
    v = record.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise CalibrationError(f"stored fit: {key} must be a positive integer ({v!r})", field=key)
    return v


def _header(record: Mapping[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    if not isinstance(record, Mapping):
        raise CalibrationError("stored fit must be a mapping", field="fit")
    if record.get("format") != STORED_FIT_FORMAT:
        raise CalibrationError(f"stored fit: unknown format {record.get('format')!r} (this reader knows "
                               f"{STORED_FIT_FORMAT})", field="format")
    model = record.get("model")
    weight = record.get("weight")
    if not isinstance(model, str):
        raise CalibrationError("stored fit: model is missing", field="model")
    try:
        names = curve_model(model).param_names
    except CalibrationError as exc:
        raise CalibrationError(f"stored fit: {exc}", field="model") from None
    if weight not in WEIGHTS:
        raise CalibrationError(f"stored fit: unknown weight {weight!r}", field="weight")
    if tuple(record.get("param_names") or ()) != names:
        raise CalibrationError(f"stored fit: parameter names {record.get('param_names')!r} are not those of "
                               f"model {model} {names!r}", field="param_names")
    return model, str(weight), names


def from_stored(record: Mapping[str, Any]) -> CurveFit:
    """The fit a record describes, rebuilt without fitting; CalibrationError names a bad field."""
    model, weight, names = _header(record)
    p = len(names)
    theta = _numbers(record, "params", p)
    cov_raw = record.get("covariance")
    if not isinstance(cov_raw, list) or len(cov_raw) != p:
        raise CalibrationError(f"stored fit: covariance must be {p}×{p}", field="covariance")
    cov = tuple(tuple(_numbers({"covariance": row}, "covariance", p)) for row in cov_raw)
    n = _integer(record, "n")
    dof = _integer(record, "dof")
    xs = _numbers(record, "concentrations", n)
    ys = _numbers(record, "responses", n)
    ws = _numbers(record, "weights", n)
    if dof != n - p:
        raise CalibrationError(f"stored fit: dof {dof} is not n − p = {n - p}", field="dof")
    stderr = _numbers(record, "stderr", p, allow_null=True)
    extras_raw = record.get("extras") or {}
    if not isinstance(extras_raw, Mapping):
        raise CalibrationError("stored fit: extras must be a mapping", field="extras")
    extras = {str(k): (math.nan if v is None else float(v)) for k, v in extras_raw.items()}
    return CurveFit(model=model, weight=weight, n=n, params=dict(zip(names, theta, strict=True)),
                    stderr=dict(zip(names, stderr, strict=True)), rss=_number(record, "rss"),
                    residual_sd=_number(record, "residual_sd"), r2=_number(record, "r2", allow_null=True),
                    concentrations=tuple(xs), responses=tuple(ys), weights=tuple(ws), covariance=cov, dof=dof,
                    converged=bool(record.get("converged", True)), iterations=int(record.get("iterations", 0)),
                    extras=extras)


def invert_stored(record: Mapping[str, Any], response: float, replicates: int = 1,
                  alpha: float = 0.05) -> Prediction:
    """Inverse prediction of ``response`` from the stored record (see :func:`calibration.curves.inverse_predict`)."""
    return inverse_predict(from_stored(record), response, replicates=replicates, alpha=alpha)


def levels_of(record: Mapping[str, Any]) -> Sequence[float]:
    """The calibration levels of a stored fit, ascending."""
    return sorted(set(_numbers(record, "concentrations")))
