"""CLI start-up: `lims --help` and every sub-command's `--help`, whole process, against the peer.

The peer is a bare interpreter importing what any argparse command line needs:
``python -c "import argparse, json"`` (same interpreter, same run). Each command runs N times as its own
process; printed per command: best and median wall time, peak resident memory (``ru_maxrss`` of the child,
from ``os.wait4``), and the ratios of best and median time to the peer's. Target (issue 17): every line
within 4× the peer and under 60 MB resident.

    .venv/bin/python bench/bench_cli_startup.py [-n 10] [--only lims]   # --only: a prefix of the command
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
LIMS = str(VENV_BIN / "lims") if (VENV_BIN / "lims").exists() else None
TIME_LIMIT = 4.0
RSS_LIMIT_MB = 60.0


def run_once(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB (Linux reports ru_maxrss in KiB) and exit status of one child."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024.0, proc.returncode


def measure(argv: list[str], n: int) -> dict[str, float]:
    times, rss = [], []
    for _ in range(n):
        elapsed, mb, code = run_once(argv)
        if code != 0:
            raise SystemExit(f"{' '.join(argv)} exited {code}")
        times.append(elapsed)
        rss.append(mb)
    return {"best": min(times), "median": statistics.median(times), "rss": max(rss)}


def help_commands() -> list[list[str]]:
    """``[]`` (the top level) and the path of every sub-command, walked from the parser itself."""
    from lims.cli import build_parser

    paths: list[list[str]] = [[]]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="runs per command (default 10)")
    ap.add_argument("--only", default="", help="only commands starting with this text, e.g. 'lims pt'")
    args = ap.parse_args()
    lims = [LIMS] if LIMS else [sys.executable, "-m", "lims.cli"]
    peer = measure([sys.executable, "-c", "import argparse, json"], args.n)
    print(f"N={args.n}  peer: python -c 'import argparse, json'  best {peer['best'] * 1000:.0f} ms  "
          f"median {peer['median'] * 1000:.0f} ms  rss {peer['rss']:.1f} MB")
    print(f"{'command':48} {'best ms':>8} {'med ms':>8} {'×best':>6} {'×med':>6} {'RSS MB':>7}  ok")
    failures = 0
    for path in help_commands():
        label = " ".join(["lims", *path, "--help"])
        if not label.startswith(args.only):
            continue
        m = measure([*lims, *path, "--help"], args.n)
        r_best, r_med = m["best"] / peer["best"], m["median"] / peer["median"]
        ok = r_best <= TIME_LIMIT and m["rss"] < RSS_LIMIT_MB
        failures += not ok
        print(f"{label:48} {m['best'] * 1000:8.0f} {m['median'] * 1000:8.0f} {r_best:6.2f} {r_med:6.2f} "
              f"{m['rss']:7.1f}  {'yes' if ok else 'NO'}")
    print(f"target: best ≤ {TIME_LIMIT}× peer and RSS < {RSS_LIMIT_MB} MB; {failures} command(s) outside it")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
