"""ISO 13528:2022 statistics for proficiency testing (pure numerics: numpy, scipy).

Modules: :mod:`robust` (Annex C estimators), :mod:`sigma` (Clause 8), :mod:`scores` (Clause 9),
:mod:`homogeneity` (Annex B), :mod:`combined` (combined scores, false positives/negatives),
:mod:`batch` (vectorised round scoring), :mod:`errors` (typed errors).
"""
