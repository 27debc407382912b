"""`lims pt assign` and `lims pt score`, whole process, against a plain pt13528 loop over the same CSV.

Round: 300 labs × 1,000 analytes (``bench_proficiency.make_round``: gaps, outliers, rarely offered analytes),
written as the contract CSV ``lab,analyte,result,uncertainty`` (~6.5 MB, ~257,000 rows).

- ``lims pt assign CSV --method algorithm-a --json`` against ``bench/_pt_peer_loop.py assign`` (the csv
  module, grouping in a dict, ``pt13528.assigned_value.consensus(x, "algorithm_a", tol="iso2022")`` per
  analyte, one JSON document);
- ``lims pt score CSV --assigned X --u-assigned U --sigma-pt S --json`` (every row of the round against one
  assigned value) against ``bench/_pt_peer_loop.py score`` (pt13528 ``z_score``, ``z_prime_score``,
  ``zeta_score``, ``en_score``, D, D %, class per row).

Each command runs N times as its own process, each run paired with a peer run right before it (the machine
is shared: its load drifts). Printed per command: best and median wall time, peak RSS (GNU time ``%M``),
the median of the paired ratios peer/ours (target ≥ 5×), peak RSS target < 200 MB, the median of the paired
CPU-time ratios (user + system: what a loaded, shared machine blurs least), and a check that the
numbers agree with the peer's (x_pt, s*, u(x_pt) per analyte; z, z', zeta, En, D, D % per row; to 1e-9
relative: pt13528 computes the same formulas, its stopping tolerance differs in form).

The project's modules are byte-compiled first (``python -m compileall -q lims proficiency calibration drivers
api``, what pip does when it installs the wheel): the environment sets PYTHONDONTWRITEBYTECODE, so otherwise
every run of ``lims`` would compile its modules from source, which no installed copy does.

    .venv/bin/python bench/bench_pt_cli.py [-n 5] [--only assign|score]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _timed import run_once

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
TARGET, RSS_LIMIT_MB = 5.0, 200.0
X_PT, U_PT, SIGMA = "0.1", "0.004", "0.02"
COMPILED = ("lims", "proficiency", "calibration", "drivers", "api")  # byte-compiled as an install would be


def write_round(path: str) -> int:
    """The bench round as a contract CSV; returns the number of data rows."""
    sys.path.insert(0, str(HERE))
    from bench_proficiency import make_round

    x, big_u = make_round()
    rows = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("lab,analyte,result,uncertainty\n")
        for i, (xs, us) in enumerate(zip(x.tolist(), big_u.tolist(), strict=True)):
            lines = [f"L{j + 1:03d},A{i + 1:04d},{v!r},{u!r}\n" for j, (v, u) in enumerate(zip(xs, us, strict=True))
                     if v == v]
            f.writelines(lines)
            rows += len(lines)
    return rows


def close(a: float | None, b: float | None, floor: float = 1e-12) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), floor)


def agree(kind: str, ours: dict, peer: dict) -> bool:  # type: ignore[type-arg]
    if kind == "assign":
        pairs = zip(ours["analytes"], peer["analytes"], strict=True)
        return all(o["analyte"] == p["analyte"] and o["n"] == p["n"] and all(
            close(o[k], p[k]) for k in ("assigned_value", "robust_sd", "u_assigned")) for o, p in pairs)
    pairs = zip(ours["scores"], peer["scores"], strict=True)
    keys = ("result", "z", "z_prime", "zeta", "en", "d", "d_percent")
    return all(o["lab"] == p["lab"] and o["class"][:4] == {"acceptable": "sati", "warning": "ques",
                                                              "action": "unsa"}[p["class"]]
               and all(close(o[k], p[k], 1.0) for k in keys) for o, p in pairs)


def measure(kind: str, ours_argv: list[str], peer_argv: list[str], n: int, tmp: str) -> bool:
    runs: dict[str, list[tuple[float, float, float]]] = {"peer": [], "ours": []}
    for i in range(n):
        runs["peer"].append(run_once(peer_argv, os.path.join(tmp, "peer.json")))
        runs["ours"].append(run_once(ours_argv, os.path.join(tmp, "ours.json")))
        if i == 0:
            same = agree(kind, json.loads(Path(tmp, "ours.json").read_bytes()),
                         json.loads(Path(tmp, "peer.json").read_bytes()))
    fig = {}
    for key in ("peer", "ours"):
        times = [t for t, _, _ in runs[key]]
        fig[key] = (min(times), statistics.median(times), max(m for _, m, _ in runs[key]))
    paired = statistics.median(p[0] / o[0] for p, o in zip(runs["peer"], runs["ours"], strict=True))
    cpu = statistics.median(p[2] / o[2] for p, o in zip(runs["peer"], runs["ours"], strict=True))
    ok = paired >= TARGET and fig["ours"][2] < RSS_LIMIT_MB and same
    print(f"lims pt {kind}: best {fig['ours'][0]:.3f} s, median {fig['ours'][1]:.3f} s, peak RSS "
          f"{fig['ours'][2]:.1f} MB | pt13528 loop: best {fig['peer'][0]:.3f} s, median {fig['peer'][1]:.3f} s, "
          f"peak RSS {fig['peer'][2]:.1f} MB")
    print(f"  ratio peer/ours: best {fig['peer'][0] / fig['ours'][0]:.2f}x, median of paired runs {paired:.2f}x "
          f"(target >= {TARGET}x, RSS < {RSS_LIMIT_MB:.0f} MB); CPU time (user + system) ratio, median of paired "
          f"runs {cpu:.2f}x; numbers agree with the peer: {same}  "
          f"{'ok' if ok else 'NOT MET'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="paired runs per command (default 5)")
    ap.add_argument("--only", choices=("assign", "score"))
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", *COMPILED], cwd=HERE.parent, check=True,
                   stdout=subprocess.DEVNULL)
    lims = [str(VENV_BIN / "lims")] if (VENV_BIN / "lims").exists() else [sys.executable, "-m", "lims.cli"]
    peer = [sys.executable, str(HERE / "_pt_peer_loop.py")]
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, "round.csv")
        rows = write_round(csv_path)
        print(f"round: {rows} rows, {os.path.getsize(csv_path) / 1e6:.1f} MB; N={args.n} paired runs")
        commands = {
            "assign": ([*lims, "pt", "assign", csv_path, "--method", "algorithm-a", "--json"],
                       [*peer, "assign", csv_path]),
            "score": ([*lims, "pt", "score", csv_path, "--assigned", X_PT, "--u-assigned", U_PT, "--sigma-pt",
                       SIGMA, "--json"], [*peer, "score", csv_path, X_PT, U_PT, SIGMA]),
        }
        results = [measure(kind, ours, theirs, args.n, tmp) for kind, (ours, theirs) in commands.items()
                   if args.only in (None, kind)]
    print("PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
