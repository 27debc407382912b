"""Westgard multirule QC over runs with one to three control levels (CONTRACTS.md, Quality control).

Rule definitions: J.O. Westgard, P.L. Barry, M.R. Hunt, T. Groth, "A multi-rule Shewhart chart for quality
control in clinical chemistry", Clin. Chem. 27 (1981) 493–501; westgard.com "Westgard Rules" (the
multirule with 2 and 3 control materials: 1-3s/2-2s/R-4s/4-1s/10x and 1-3s/2of3-2s/R-4s/3-1s/6x).

Semantics (as the contract states them):

- every rejection rule is applied to every run (no 1-2s trigger); ``1-2s`` is a warning only;
- z = (value − mean)/sd per result, with the mean and SD given for that result's level;
- "beyond k s" means strictly beyond: z > +k or z < −k;
- the consecutive-count rules (``N-ks``: 2-2s, 3-1s, 4-1s; ``Nx``: 6x, 10x; ``AofB-ks``: 2of3-2s) look
  at two sequences: each level's own results across runs, and all results in run order (within a
  run, in the order given), i.e. across levels within a run and between consecutive runs. A run
  breaks a rule when a window of N consecutive results that ends in that run is all beyond the same
  limit on the same side (for ``AofB``: A of the last B beyond it, at least one of them in that run);
- ``R-ks`` (R-4s) looks within one run only: one result beyond +k/2 s and another beyond −k/2 s;
- ``1-ks`` (1-3s): any result of the run beyond ±k s.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from calibration.errors import CalibrationError

#: Westgard et al. 1981 / westgard.com: multirule for one or two control materials per run.
RULES_2_LEVELS = ("1-3s", "2-2s", "R-4s", "4-1s", "10x")
#: westgard.com "Westgard Rules", multirule for three control materials per run.
RULES_3_LEVELS = ("1-3s", "2of3-2s", "R-4s", "3-1s", "6x")
WARNING_RULE = "1-2s"

_RULE = re.compile(r"^(?:(?P<n>\d+)-(?P<k>\d+(?:\.\d+)?)s|(?P<a>\d+)of(?P<b>\d+)-(?P<k2>\d+(?:\.\d+)?)s"
                   r"|(?P<x>\d+)x|r-(?P<kr>\d+(?:\.\d+)?)s)$", re.IGNORECASE)


@dataclass(frozen=True)
class ControlResult:
    """One control measurement: its run, level (control material), value and the level's target mean/SD."""

    run: str
    level: str
    value: float
    mean: float
    sd: float

    @property
    def z(self) -> float:
        return (self.value - self.mean) / self.sd


@dataclass(frozen=True)
class Rule:
    """A parsed rule. ``kind``: ``count`` (``count`` of ``window`` consecutive beyond ``limit`` s, same side),
    ``range`` (within run, one beyond +limit and one beyond −limit) or ``single`` (one beyond ±limit)."""

    name: str
    kind: str
    limit: float
    count: int = 1
    window: int = 1


@dataclass(frozen=True)
class RunVerdict:
    run: str
    accepted: bool
    warnings: tuple[str, ...]
    rejections: tuple[str, ...]


def _canonical(text: str) -> str:
    t = text.strip()
    return "R-" + t[2:] if t[:2].lower() == "r-" else t.lower()


def parse_rule(text: str) -> Rule:
    """``1-3s``, ``2-2s``, ``4-1s``, ``2of3-2s``, ``R-4s``, ``10x``… → :class:`Rule`; unknown → CalibrationError."""
    name = _canonical(text)
    m = _RULE.match(name)
    if m is None:
        raise CalibrationError(f"unknown Westgard rule {text.strip()!r} (e.g. 1-3s, 2-2s, 2of3-2s, R-4s, 4-1s, 10x)",
                               field="rules")
    if m["x"] is not None:
        n = int(m["x"])
        rule = Rule(name, "count", 0.0, n, n)
    elif m["kr"] is not None:
        rule = Rule(name, "range", float(m["kr"]) / 2.0, 2, 1)
    elif m["a"] is not None:
        a, b = int(m["a"]), int(m["b"])
        if not 1 <= a <= b:
            raise CalibrationError(f"rule {text.strip()!r}: A of B needs 1 ≤ A ≤ B", field="rules")
        rule = Rule(name, "count", float(m["k2"]), a, b)
    else:
        n = int(m["n"])
        rule = Rule(name, "single" if n == 1 else "count", float(m["k"]), n, n)
    if rule.count < 1 or rule.limit < 0 or not math.isfinite(rule.limit):
        raise CalibrationError(f"rule {text.strip()!r} has no meaning", field="rules")
    return rule


def parse_rules(text: str) -> tuple[Rule, ...]:
    """A comma-separated rule list (``--rules``); duplicates are dropped, the order kept."""
    names = [t for t in (p.strip() for p in text.split(",")) if t]
    if not names:
        raise CalibrationError("no rules given", field="rules")
    rules: dict[str, Rule] = {}
    for n in names:
        r = parse_rule(n)
        rules.setdefault(r.name, r)
    return tuple(rules.values())


def default_rules(level_count: int) -> tuple[Rule, ...]:
    """Three levels: the 3-material multirule; otherwise (one, two or more levels) the 2-material one."""
    return tuple(parse_rule(n) for n in (RULES_3_LEVELS if level_count == 3 else RULES_2_LEVELS))


def _beyond(z: float, limit: float, side: int) -> bool:
    return z > limit if side > 0 else z < -limit


def _window_breaks(seq: Sequence[tuple[int, float]], end: int, rule: Rule, run_index: int) -> bool:
    """The ``rule.window`` results of ``seq`` ending at ``end``: ``rule.count`` beyond the same side
    (at least one of those in run ``run_index``)."""
    if end + 1 < rule.window:
        return False
    window = seq[end + 1 - rule.window: end + 1]
    for side in (1, -1):
        hits = [ri for ri, z in window if _beyond(z, rule.limit, side)]
        if len(hits) >= rule.count and run_index in hits:
            return True
    return False


def _count_rule(rule: Rule, combined: Sequence[tuple[int, float]], by_level: Sequence[Sequence[tuple[int, float]]],
                run_index: int) -> bool:
    for seq in (combined, *by_level):
        end = len(seq) - 1
        while end >= 0 and seq[end][0] == run_index:
            if _window_breaks(seq, end, rule, run_index):
                return True
            end -= 1
    return False


def _breaks(rule: Rule, run_z: Sequence[float], combined: Sequence[tuple[int, float]],
            by_level: Sequence[Sequence[tuple[int, float]]], run_index: int) -> bool:
    if rule.kind == "single":
        return any(abs(z) > rule.limit for z in run_z)
    if rule.kind == "range":
        return any(z > rule.limit for z in run_z) and any(z < -rule.limit for z in run_z)
    return _count_rule(rule, combined, by_level, run_index)


def _group(results: Sequence[ControlResult]) -> list[tuple[str, list[ControlResult]]]:
    runs: list[tuple[str, list[ControlResult]]] = []
    for i, r in enumerate(results):
        if not math.isfinite(r.value) or not math.isfinite(r.mean):
            raise CalibrationError("value and mean must be finite numbers", point=i, field="value")
        if not (math.isfinite(r.sd) and r.sd > 0):
            raise CalibrationError(f"sd must be > 0 (got {r.sd!r})", point=i, field="sd")
        if runs and runs[-1][0] == r.run:
            runs[-1][1].append(r)
        elif any(name == r.run for name, _ in runs):
            raise CalibrationError(f"run {r.run!r} appears again after other runs (results must be in run order)",
                                   point=i, field="run")
        else:
            runs.append((r.run, [r]))
    return runs


def evaluate(results: Sequence[ControlResult], rules: Sequence[Rule] | None = None) -> tuple[RunVerdict, ...]:
    """Every run's verdict under ``rules`` (default: :func:`default_rules` for the number of levels).

    ``results`` in run order; a run's results are contiguous. Raises :class:`CalibrationError` (with
    ``point`` = index of the offending result) on an SD ≤ 0, a non-finite value or runs out of order."""
    if not results:
        raise CalibrationError("no control results", field="run")
    runs = _group(results)
    levels = list(dict.fromkeys(r.level for r in results))
    active = tuple(rules) if rules is not None else default_rules(len(levels))
    reject_rules = [r for r in active if r.name != WARNING_RULE]
    combined: list[tuple[int, float]] = []
    by_level: dict[str, list[tuple[int, float]]] = {lv: [] for lv in levels}
    verdicts: list[RunVerdict] = []
    for index, (name, members) in enumerate(runs):
        run_z = [m.z for m in members]
        for m, z in zip(members, run_z, strict=True):
            combined.append((index, z))
            by_level[m.level].append((index, z))
        rejections = tuple(r.name for r in reject_rules
                           if _breaks(r, run_z, combined, list(by_level.values()), index))
        warnings = (WARNING_RULE,) if any(abs(z) > 2.0 for z in run_z) else ()
        verdicts.append(RunVerdict(name, not rejections, warnings, rejections))
    return tuple(verdicts)
