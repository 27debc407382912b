"""`lims demo [--out DIR]` (CONTRACTS.md): the main job on the embedded default."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="运行演示：一天的实验室工作 / run a simulated lab day")
    p.add_argument("--out", default="var/demo", help="output folder (default var/demo)")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from lims.demo import run_demo

    out = Path(args.out)
    try:
        summary = run_demo(out)
    except Exception as exc:  # noqa: BLE001 - the demo reports which step failed
        traceback.print_exc(file=sys.stderr)
        print(f"lims demo: failed: {exc}", file=sys.stderr)
        return 1
    ok = summary.pop("ok")
    print("\n== 汇总 / summary ==")
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    print(f"summary written to {out / 'summary.json'}")
    return 0 if ok else 1
