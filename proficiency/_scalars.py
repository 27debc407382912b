"""Scalar input checks shared by the modules (no numpy: the score and sigma formulas load without it)."""

from __future__ import annotations

import math

from .errors import ProficiencyError


def finite(name: str, value: float) -> float:
    """``value`` as a float, or a ProficiencyError naming ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ProficiencyError(f"{name}: not a number: {value!r}") from None
    if not math.isfinite(v):
        raise ProficiencyError(f"{name}: not a finite number: {value!r}")
    return v


def positive(name: str, value: float) -> float:
    v = finite(name, value)
    if v <= 0:
        raise ProficiencyError(f"{name}: must be positive (got {v!r})")
    return v


def non_negative(name: str, value: float) -> float:
    v = finite(name, value)
    if v < 0:
        raise ProficiencyError(f"{name}: must not be negative (got {v!r})")
    return v
