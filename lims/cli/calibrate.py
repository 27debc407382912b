"""`lims calibrate CSV --model MODEL [--weight W] [--predict Y]... [--replicates M] [--alpha A] --json`
(CONTRACTS.md, Calibration)."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from calibration.errors import CalibrationError
from lims.cli.common import EXIT_OK, BadInput, emit_json, read_csv

if TYPE_CHECKING:  # calibration.curves (numpy/scipy) loads when the command runs, not for `--help` (issue 17)
    from calibration.curves import CurveFit

# calibration.curves.MODELS / WEIGHTS, spelled out so the parser builds without numpy/scipy;
# tests/test_cli_help.py checks they stay equal.
MODELS = ("linear", "linear-origin", "quadratic", "4pl", "5pl", "avg-rf")
WEIGHTS = ("none", "1/x", "1/x2", "1/y", "1/y2")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("calibrate", help="fit a standard curve and predict concentrations / 拟合标准曲线")
    p.add_argument("csv", metavar="CSV", help="columns concentration,response (repeats are replicates)")
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--weight", default="none", choices=WEIGHTS)
    p.add_argument("--predict", type=float, action="append", default=[], metavar="Y",
                   help="response to convert to concentration (repeatable)")
    p.add_argument("--replicates", type=int, default=1, metavar="M", help="readings averaged per response")
    p.add_argument("--alpha", type=float, default=0.05, metavar="A", help="1 − confidence level (default 0.05)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from calibration.curves import fit_curve

    if args.replicates < 1:
        raise BadInput(f"--replicates must be ≥ 1 (got {args.replicates})", field="--replicates")
    if not 0.0 < args.alpha < 1.0:
        raise BadInput(f"--alpha must be between 0 and 1 (got {args.alpha})", field="--alpha")
    for y in args.predict:
        if not math.isfinite(y):
            raise BadInput(f"--predict must be a finite number (got {y})", field="--predict")
    rows = read_csv(args.csv, required=["concentration", "response"])
    x: list[float] = []
    y: list[float] = []
    for row in rows:
        cx = row.number("concentration", file=args.csv)
        cy = row.number("response", file=args.csv)
        assert cx is not None and cy is not None
        x.append(cx)
        y.append(cy)
    if not rows:
        raise BadInput("no data rows (too few points)", file=args.csv, line=1, field="concentration")
    try:
        fit = fit_curve(x, y, model=args.model, weight=args.weight)
    except CalibrationError as exc:
        line = rows[exc.point].line if exc.point is not None and exc.point < len(rows) else None
        raise BadInput(str(exc), file=args.csv, line=line, field=exc.field or "concentration") from None
    doc = curve_document(fit, args.predict, args.replicates, args.alpha)
    if args.json:
        emit_json(doc)
    else:
        _print_text(doc)
    return EXIT_OK


def curve_document(fit: CurveFit, predict: list[float], replicates: int, alpha: float) -> dict[str, Any]:
    """The contract's JSON document for a fitted curve (extra keys: dof, converged, levels…)."""
    from calibration.curves import acceptance, detection_limits, inverse_predict

    predictions = []
    for yv in predict:
        pr = inverse_predict(fit, yv, replicates=replicates, alpha=alpha)
        d = asdict(pr)
        predictions.append({
            "response": d["response"], "concentration": d["concentration"], "stderr": d["stderr"],
            "ci_low": d["ci_low"], "ci_high": d["ci_high"], "replicates": d["replicates"],
            "out_of_range": d["out_of_range"], "extrapolated_concentration": d["extrapolated_concentration"],
            "note": d["note"],
        })
    limits = detection_limits(fit, alpha=alpha, k=3.0)
    acc = acceptance(fit)
    return {
        "model": fit.model,
        "weight": fit.weight,
        "n": fit.n,
        "params": fit.params,
        "stderr": fit.stderr,
        "rss": fit.rss,
        "residual_sd": fit.residual_sd,
        "r2": fit.r2,
        "dof": fit.dof,
        "levels": list(fit.levels),
        "converged": fit.converged,
        "predictions": predictions,
        "decision_limit": limits.decision_limit if limits else None,
        "lod": limits.detection_limit if limits else None,
        "loq": limits.quantification_limit if limits else None,
        "acceptance": {
            "passed": acc.passed,
            "checks": [{"name": c.name, "passed": c.passed, "value": c.value, "limit": c.limit, "rule": c.rule}
                       for c in acc.checks],
        },
    }


def _print_text(doc: dict[str, Any]) -> None:
    print(f"model {doc['model']} (weight {doc['weight']}), n = {doc['n']}, r² = {doc['r2']:.6f}")
    for k, v in doc["params"].items():
        print(f"  {k} = {v:.6g} ± {doc['stderr'][k]:.3g}")
    for p in doc["predictions"]:
        if p["concentration"] is None:
            print(f"  y = {p['response']:g}: {p['out_of_range']} — {p['note']}")
        else:
            print(f"  y = {p['response']:g}: x = {p['concentration']:.6g} [{p['ci_low']:.6g}, {p['ci_high']:.6g}]")
    print(f"acceptance: {'passed' if doc['acceptance']['passed'] else 'FAILED'}")
