"""Combined scores over a round and over time, and qualitative judgement of multi-residue rounds.

ISO 13528:2022 9.9 leaves combined scores to the provider; the forms here are those in common use:
RSZ = sum z / sqrt(n) (rescaled sum of z), SSZ = sum z^2 (sum of squared z), and the EU proficiency
tests' AZ^2 = mean of z^2 with each |z| capped at 5 (DOMAIN.md). Multi-residue rounds also judge
false positives and false negatives against a minimum required reporting level (MRRL).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._scalars import positive
from .errors import ProficiencyError

AZ2_CAP = 5.0


def rescaled_sum_z(z_scores: Iterable[float]) -> float:
    """RSZ = sum z_i / sqrt(n)."""
    from ._validate import as_results  # numpy: loaded when a score is combined, not with the web app

    z = as_results(z_scores, what="z scores")
    return float(z.sum() / math.sqrt(z.size))


def sum_squared_z(z_scores: Iterable[float]) -> float:
    """SSZ = sum z_i^2."""
    import numpy as np

    from ._validate import as_results

    z = as_results(z_scores, what="z scores")
    return float(np.sum(z * z))


def average_squared_z(z_scores: Iterable[float], cap: float = AZ2_CAP) -> float:
    """AZ^2 = (1/n) sum min(|z_i|, cap)^2 (EU proficiency tests, cap 5)."""
    import numpy as np

    from ._validate import as_results

    z = np.minimum(np.abs(as_results(z_scores, what="z scores")), positive("cap", cap))
    return float(np.mean(z * z))


@dataclass(frozen=True)
class ScoreRecord:
    """One score of a laboratory for one analyte in one round; ``order`` sorts rounds in time."""

    lab: str
    analyte: str
    order: float
    z: float


@dataclass(frozen=True)
class RunningPerformance:
    lab: str
    analyte: str
    order: float
    n: int
    rsz: float
    ssz: float
    az2: float


def running_performance(records: Iterable[ScoreRecord], window: int = 5) -> list[RunningPerformance]:
    """Running RSZ, SSZ and AZ^2 per laboratory and analyte over the last ``window`` rounds
    (ordered by ``order``), one entry per round; sorted by lab, analyte, order."""
    if window < 1:
        raise ProficiencyError(f"running performance: window must be at least 1 (got {window})")
    groups: dict[tuple[str, str], list[ScoreRecord]] = {}
    for r in records:
        if not math.isfinite(r.z):
            raise ProficiencyError(f"running performance: z of {r.lab}/{r.analyte} at {r.order} is not finite")
        groups.setdefault((r.lab, r.analyte), []).append(r)
    out: list[RunningPerformance] = []
    for (lab, analyte), rs in sorted(groups.items()):
        rs.sort(key=lambda r: r.order)
        for i, r in enumerate(rs):
            zs = [q.z for q in rs[max(0, i - window + 1): i + 1]]
            out.append(RunningPerformance(lab, analyte, r.order, len(zs), rescaled_sum_z(zs),
                                          sum_squared_z(zs), average_squared_z(zs)))
    return out


TRUE_POSITIVE = "true positive"
FALSE_NEGATIVE = "false negative"
FALSE_POSITIVE = "false positive"
TRUE_NEGATIVE = "true negative"


@dataclass(frozen=True)
class DetectionJudgement:
    analyte: str
    present: bool
    reported: float | None
    mrrl: float
    outcome: str


@dataclass(frozen=True)
class DetectionSummary:
    judgements: tuple[DetectionJudgement, ...]
    false_positives: int
    false_negatives: int


def judge_detections(
    assigned_values: Mapping[str, float],
    reported: Mapping[str, float | None],
    mrrl: Mapping[str, float],
    analytes: Sequence[str] | None = None,
) -> DetectionSummary:
    """Qualitative judgement of one laboratory in a multi-residue round.

    ``assigned_values``: analytes present in the test item with their assigned values;
    ``reported``: the laboratory's results (None or absent = not detected); ``mrrl``: minimum
    required reporting level per analyte of the scope. An analyte present at or above its MRRL
    and not reported is a false negative; an analyte not present but reported at or above its
    MRRL is a false positive. ``analytes`` (default: every key of ``mrrl``) is the scope.
    """
    scope = list(analytes) if analytes is not None else sorted(mrrl)
    out: list[DetectionJudgement] = []
    for name in scope:
        if name not in mrrl:
            raise ProficiencyError(f"detections: no MRRL for analyte {name!r}")
        level = mrrl[name]
        value = reported.get(name)
        present = name in assigned_values
        if present:
            detected = value is not None
            if detected:
                outcome = TRUE_POSITIVE
            else:
                outcome = FALSE_NEGATIVE if assigned_values[name] >= level else TRUE_NEGATIVE
        else:
            outcome = FALSE_POSITIVE if value is not None and value >= level else TRUE_NEGATIVE
        out.append(DetectionJudgement(name, present, value, level, outcome))
    return DetectionSummary(tuple(out), sum(j.outcome == FALSE_POSITIVE for j in out),
                            sum(j.outcome == FALSE_NEGATIVE for j in out))
