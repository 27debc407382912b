"""Input checks shared by the modules (no statistics here)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from ._scalars import finite, non_negative, positive
from .errors import EmptyInputError, ProficiencyError, TooFewResultsError

__all__ = ["BoolArray", "FloatArray", "IntArray", "as_results", "finite", "non_negative", "positive"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def as_results(values: Iterable[float], *, what: str = "results", minimum: int = 1) -> FloatArray:
    """A 1-D float array of finite values; raises a typed error naming ``what``."""
    if isinstance(values, (str, bytes, dict)):
        raise ProficiencyError(f"{what}: a sequence of numbers is required")
    try:
        a = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    except (TypeError, ValueError):
        raise ProficiencyError(f"{what}: a sequence of numbers is required") from None
    if a.ndim != 1:
        raise ProficiencyError(f"{what}: a one-dimensional sequence is required (got shape {a.shape})")
    if a.size == 0:
        raise EmptyInputError(f"{what}: no results")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ProficiencyError(f"{what}: value at position {int(bad[0])} is not a finite number")
    if a.size < minimum:
        raise TooFewResultsError(f"{what}: {a.size} result(s), at least {minimum} needed")
    return a
