"""CLI start-up: `lims --help` and every sub-command's `--help`, whole process, against the peer.

The peer is a bare interpreter importing what any argparse command line needs:
``python -c "import argparse, json"`` (same interpreter). Each command runs N times as its own process,
each run paired with a run of the peer right before it (the machine is shared: its load drifts, so every
command gets its own peer figures). Printed per command: best and median wall time, peak resident memory
(``/usr/bin/time -f %M``, the child's own maximum RSS; ``os.wait4``'s ru_maxrss would count the parent's
pages at fork), the ratios of best and median time to its peer's, the median of the N paired ratios (each
run over the peer run just before it: the figure a load burst moves least) and the peer's best. Target
(issue 17): every command within 4× the peer (paired median) and under 60 MB resident.

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


TIME = "/usr/bin/time"


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MB (GNU time's %M is in KiB) of one child; it must exit 0."""
    start = time.perf_counter()
    done = subprocess.run([TIME, "-f", "%M", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024.0


def measure(argv: list[str], peer_argv: list[str], n: int) -> tuple[dict[str, float], dict[str, float]]:
    """``argv`` and the peer, N runs each, interleaved: (command figures, peer figures)."""
    runs: dict[str, list[tuple[float, float]]] = {"peer": [], "cmd": []}
    for _ in range(n):
        runs["peer"].append(run_once(peer_argv))
        runs["cmd"].append(run_once(argv))
    out = []
    for key in ("cmd", "peer"):
        times = [t for t, _ in runs[key]]
        out.append({"best": min(times), "median": statistics.median(times), "rss": max(m for _, m in runs[key])})
    out[0]["paired"] = statistics.median(c[0] / p[0] for c, p in zip(runs["cmd"], runs["peer"], strict=True))
    return out[0], out[1]




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="runs per command (default 10)")
    ap.add_argument("--only", default="", help="only commands starting with this text, e.g. 'lims pt'")
    args = ap.parse_args()
    if not os.path.exists(TIME):
        raise SystemExit(f"{TIME} (GNU time) is needed for the children's own peak RSS")
    lims = [LIMS] if LIMS else [sys.executable, "-m", "lims.cli"]
    peer_argv = [sys.executable, "-c", "import argparse, json"]
    print(f"N={args.n}; peer: python -c 'import argparse, json', run before each run of each command")
    print(f"{'command':48} {'best ms':>8} {'med ms':>8} {'×best':>6} {'×med':>6} {'×pair':>6} {'RSS MB':>7} "
          f"{'peer ms':>8} {'peer MB':>8}  ok")
    failures = 0
    from lims.cli import command_paths

    for path in command_paths():
        label = " ".join(["lims", *path, "--help"])
        if not label.startswith(args.only):
            continue
        m, peer = measure([*lims, *path, "--help"], peer_argv, args.n)
        r_best, r_med = m["best"] / peer["best"], m["median"] / peer["median"]
        ok = m["paired"] <= TIME_LIMIT and m["rss"] < RSS_LIMIT_MB
        failures += not ok
        print(f"{label:48} {m['best'] * 1000:8.0f} {m['median'] * 1000:8.0f} {r_best:6.2f} {r_med:6.2f} {m['paired']:6.2f} "
              f"{m['rss']:7.1f} {peer['best'] * 1000:8.0f} {peer['rss']:8.1f}  {'yes' if ok else 'NO'}")
    print(f"target: paired median ≤ {TIME_LIMIT}× peer and RSS < {RSS_LIMIT_MB} MB; {failures} command(s) outside it")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
