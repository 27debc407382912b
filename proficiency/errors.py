"""Typed errors of the proficiency-testing numerics.

All derive from :class:`ProficiencyError`, itself a :class:`ValueError`, so a caller that
only knows "bad numbers" can catch ``ValueError``.
"""

from __future__ import annotations


class ProficiencyError(ValueError):
    """Input that the ISO 13528 statistics cannot be computed from."""


class EmptyInputError(ProficiencyError):
    """No (finite) result was given."""


class TooFewResultsError(ProficiencyError):
    """Fewer results than the statistic needs (e.g. a standard deviation from one result)."""


class ZeroSpreadError(ProficiencyError):
    """The results have no spread, so no (robust) standard deviation can be derived."""


class NonConvergenceError(ProficiencyError):
    """An iterative estimator (Algorithm A, Algorithm S, Hampel) hit its iteration limit."""
