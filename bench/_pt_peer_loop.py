"""The peer of ``bench_pt_cli.py``: a plain loop over the PyPI package pt13528 (the bench dependency).

``assign CSV``: the CSV read with the csv module, results grouped by analyte in file order,
``assigned_value.consensus(x, "algorithm_a", tol="iso2022")`` per analyte, one JSON document
{analytes: [{analyte, n, assigned_value, robust_sd, u_assigned}]}.
``score CSV X U SIGMA``: every row scored with ``scores.z_score``, ``z_prime_score``, ``zeta_score``
(u = U/k, k = 2 unless given), ``en_score`` (U(x_pt) = 2 u), D, D % and the z class, one JSON document.

    .venv/bin/python bench/_pt_peer_loop.py assign round.csv > out.json
    .venv/bin/python bench/_pt_peer_loop.py score round.csv 0.1 0.002 0.02 > out.json
"""

from __future__ import annotations

import csv
import json
import sys

from pt13528 import assigned_value, scores


def rows(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def assign(path: str) -> dict[str, object]:
    groups: dict[str, list[float]] = {}
    for row in rows(path):
        groups.setdefault(row["analyte"], []).append(float(row["result"]))
    out = []
    for analyte, values in groups.items():
        av = assigned_value.consensus(values, "algorithm_a", tol="iso2022")
        out.append({"analyte": analyte, "method": "algorithm-a", "n": av.p, "assigned_value": av.x_pt,
                    "robust_sd": av.scale, "u_assigned": av.u_x_pt})
    return {"analytes": out}


def score(path: str, x_pt: float, u: float, sigma: float) -> dict[str, object]:
    out = []
    for row in rows(path):
        x = float(row["result"])
        big_u = float(row["uncertainty"]) if row.get("uncertainty") else None
        k = float(row["k"]) if row.get("k") else 2.0
        z = scores.z_score(x, x_pt, sigma)
        zp = scores.z_prime_score(x, x_pt, sigma, u)
        prime = not scores.uncertainty_negligible(u, sigma_pt=sigma)
        zeta = scores.zeta_score(x, x_pt, big_u / k, u) if big_u is not None else None
        en = scores.en_score(x, x_pt, big_u, 2.0 * u) if big_u is not None else None
        out.append({"lab": row["lab"], "result": x, "z": z, "z_prime": zp, "zeta": zeta, "en": en,
                    "d": scores.difference(x, x_pt), "d_percent": scores.percent_difference(x, x_pt),
                    "class": scores.classify_z(zp if prime else z)})
    return {"assigned_value": x_pt, "sigma_pt": sigma, "scores": out}


def main(argv: list[str]) -> int:
    if argv[0] == "assign":
        doc = assign(argv[1])
    else:
        doc = score(argv[1], float(argv[2]), float(argv[3]), float(argv[4]))
    sys.stdout.write(json.dumps(doc, ensure_ascii=False))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
