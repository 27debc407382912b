"""`lims qc westgard CSV [--rules RULES] --json` (CONTRACTS.md, Quality control).

CSV columns ``run,level,value,mean,sd`` in run order; the multirule is :mod:`calibration.westgard`."""

from __future__ import annotations

import argparse
from typing import Any

from lims.cli.common import EXIT_OK, BadInput, command_group, emit_json, read_csv

COLUMNS = ("run", "level", "value", "mean", "sd")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "qc", "质控 / quality control")
    p = actions.add_parser("westgard", help="Westgard multirule over control results / Westgard 多规则质控")
    p.add_argument("csv", metavar="CSV", help="columns run,level,value,mean,sd in run order")
    p.add_argument("--rules", help="comma-separated rules (default by level count: "
                                   "1-3s,2-2s,R-4s,4-1s,10x or 1-3s,2of3-2s,R-4s,3-1s,6x)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=_westgard)


def westgard_document(path: str, rules_text: str | None) -> dict[str, Any]:
    from calibration.errors import CalibrationError
    from calibration.westgard import ControlResult, evaluate, parse_rules

    try:
        rules = parse_rules(rules_text) if rules_text is not None else None
    except CalibrationError as exc:
        raise BadInput(str(exc), field="--rules") from None
    rows = read_csv(path, required=COLUMNS)
    if not rows:
        raise BadInput("no data rows", file=path, line=1, field="run")
    results = []
    for row in rows:
        run, level = row.text("run", file=path), row.text("level", file=path)
        value, mean, sd = (row.number(c, file=path) for c in ("value", "mean", "sd"))
        assert run is not None and level is not None and value is not None and mean is not None and sd is not None
        if sd <= 0:
            raise BadInput(f"sd must be > 0 (got {sd:g})", file=path, line=row.line, field="sd")
        results.append(ControlResult(run, level, value, mean, sd))
    try:
        verdicts = evaluate(results, rules)
    except CalibrationError as exc:
        line = rows[exc.point].line if exc.point is not None else None
        raise BadInput(str(exc), file=path, line=line, field=exc.field or "run") from None
    return {"runs": [{"run": v.run, "accepted": v.accepted, "warnings": list(v.warnings),
                      "rejections": list(v.rejections)} for v in verdicts]}


def _westgard(args: argparse.Namespace) -> int:
    doc = westgard_document(args.csv, args.rules)
    if args.json:
        emit_json(doc)
    else:
        for run in doc["runs"]:
            verdict = "接受 accepted" if run["accepted"] else "拒绝 rejected: " + ", ".join(run["rejections"])
            warn = f" (警告 warning: {', '.join(run['warnings'])})" if run["warnings"] else ""
            print(f"{run['run']}: {verdict}{warn}")
    return EXIT_OK
