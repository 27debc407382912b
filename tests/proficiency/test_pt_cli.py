"""`lims pt assign|score|homogeneity` (CONTRACTS.md) on ISO 13528:2022 Annex E data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lims.cli import main

# ISO 13528:2022 Annex E, Table E.4 (atrazine, 34 participants) -> Table E.5
E3 = [0.040, 0.055, 0.178, 0.202, 0.206, 0.227, 0.228, 0.230, 0.230, 0.235, 0.236, 0.237, 0.243, 0.244,
      0.245, 0.2555, 0.260, 0.264, 0.267, 0.270, 0.273, 0.274, 0.274, 0.278, 0.2811, 0.287, 0.287, 0.288,
      0.289, 0.295, 0.296, 0.311, 0.331, 0.4246]
# Annex E, Table E.11: SDs of 4 replicates (nu = 3) -> w* = 0.34
E13_SD = [0.13, 0.21, 0.08, 0.24, 0.36, 0.32, 0.14, 0.26, 0.39, 0.53, 0.25, 0.24, 0.72, 0.26, 0.17, 0.32, 0.4,
          0.36, 0.33, 0.43, 0.40, 0.55, 0.39, 0.30, 0.22]
# Annex E, Table E.2: arsenic in chocolate, 10 items in duplicate -> s_s = 0.00060, 0.3 sigma_pt = 0.00842
E2 = [[0.185, 0.194], [0.187, 0.189], [0.182, 0.186], [0.188, 0.196], [0.191, 0.181],
      [0.188, 0.180], [0.187, 0.196], [0.177, 0.186], [0.179, 0.187], [0.188, 0.196]]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object, str]:
    code = main(["pt", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else out), err


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def printed(computed: float, value: float, decimals: int) -> None:
    assert abs(computed - value) <= 0.5 * 10.0**-decimals + 1e-12, (computed, value)


def test_assign_annex_e3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"L{i},{v},atrazine\nL{i},{v * 2},double\n" for i, v in enumerate(E3))
    path = write(tmp_path, "r.csv", "lab,result,analyte\n" + rows)
    code, doc, _ = run(capsys, "assign", path, "--method", "algorithm-a", "--json")
    assert code == 0
    a, b = doc["analytes"]  # type: ignore[index]
    assert (a["analyte"], b["analyte"], a["method"], a["n"]) == ("atrazine", "double", "algorithm-a", 34)
    printed(a["assigned_value"], 0.2570, 4)
    printed(a["robust_sd"], 0.0395, 4)
    printed(a["u_assigned"], 0.0085, 4)
    assert a["iterations"] >= 2
    code, doc, _ = run(capsys, "assign", path, "--method", "median", "--json")
    a = doc["analytes"][0]  # type: ignore[index]
    printed(a["assigned_value"], 0.2620, 4)
    printed(a["robust_sd"], 0.0402, 4)
    printed(a["made"], 0.0386, 4)
    printed(a["u_assigned"], 0.0086, 4)
    code, doc, _ = run(capsys, "assign", path, "--method", "q-hampel", "--json")
    a = doc["analytes"][0]  # type: ignore[index]
    printed(a["assigned_value"], 0.2600, 4)
    printed(a["robust_sd"], 0.0426, 4)


def test_assign_algorithm_s(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "s.csv", "lab,result\n" + "".join(f"L{i},{v}\n" for i, v in enumerate(E13_SD)))
    code, doc, _ = run(capsys, "assign", path, "--method", "algorithm-s", "--dof", "3", "--json")
    assert code == 0
    printed(doc["analytes"][0]["assigned_value"], 0.34, 2)  # type: ignore[index]
    code, _, err = run(capsys, "assign", path, "--method", "algorithm-s", "--json")
    assert code == 2 and "--dof" in err


def test_score_annex_e4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Table E.6/E.7: x_pt = 0.044, U(x_pt) = 0.0082 (u = 0.0041), sigma_pt = 0.0066
    path = write(tmp_path, "s.csv", "lab,result,uncertainty,k\nL04,0.013,0.003,2\nL23,0.0135,0.00108,1.732\n"
                                    "L01,0.053,0.007,\nL99,0.050,,\n")
    code, doc, _ = run(capsys, "score", path, "--assigned", "0.044", "--u-assigned", "0.0041",
                       "--sigma-pt", "0.0066", "--json")
    assert code == 0
    s = {r["lab"]: r for r in doc["scores"]}  # type: ignore[index]
    printed(s["L04"]["z"], -4.70, 2)
    printed(s["L04"]["z_prime"], -3.99, 2)
    printed(s["L04"]["zeta"], -7.10, 2)
    printed(s["L04"]["en"], -3.55, 2)
    printed(s["L04"]["d_percent"], -70.5, 1)
    printed(s["L23"]["zeta"], -7.35, 2)
    printed(s["L23"]["en"], -3.69, 2)
    printed(s["L01"]["zeta"], 1.67, 2)  # k defaults to 2
    printed(s["L01"]["en"], 0.83, 2)
    assert s["L99"]["zeta"] is None and s["L99"]["en"] is None
    assert s["L04"]["class"] == "unsatisfactory" and s["L01"]["class"] == "satisfactory"
    assert doc["sigma_pt"] == 0.0066  # type: ignore[index]


def test_score_sigma_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "s.csv", "lab,result\nA,1.3\n")
    # ISO 13528:2022 E.9: Horwitz at 1.195 mg/kg gives sigma_pt = 0.186 mg/kg
    code, doc, _ = run(capsys, "score", path, "--assigned", "1.195", "--sigma", "horwitz", "--json")
    assert code == 0
    printed(doc["sigma_pt"], 0.186, 3)  # type: ignore[index]
    code, doc, _ = run(capsys, "score", path, "--assigned", "1.0", "--sigma", "ffp=25%", "--json")
    assert doc["sigma_pt"] == pytest.approx(0.25)  # type: ignore[index]
    code, doc, _ = run(capsys, "score", path, "--assigned", "1.0", "--sigma", "ffp=0.25", "--json")
    assert doc["scores"][0]["z"] == pytest.approx(1.2)  # type: ignore[index]
    code, _, err = run(capsys, "score", path, "--assigned", "1.0", "--sigma", "ffp=abc", "--json")
    assert code == 2 and "--sigma" in err


def test_homogeneity_annex_e2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"{g + 1},{r + 1},{v}\n" for g, item in enumerate(E2) for r, v in enumerate(item))
    path = write(tmp_path, "h.csv", "item,replicate,result\n" + rows)
    code, doc, _ = run(capsys, "homogeneity", path, "--sigma-pt", str(0.15 * 0.18715), "--json")
    assert code == 0
    assert (doc["g"], doc["m"], doc["passed"]) == (10, 2, True)  # type: ignore[index]
    printed(doc["mean"], 0.18715, 5)  # type: ignore[index]
    printed(doc["s_x"], 0.00398, 5)  # type: ignore[index]
    printed(doc["s_w"], 0.00556, 5)  # type: ignore[index]
    printed(doc["s_s"], 0.00060, 5)  # type: ignore[index]
    printed(doc["criterion"], 0.00842, 5)  # type: ignore[index]
    # Table B.1, g = 10: F1 = 1.88, F2 = 1.01
    assert doc["expanded_criterion"] == pytest.approx((1.88 * doc["criterion"] ** 2 + 1.01 * doc["s_w"] ** 2) ** 0.5)  # type: ignore[index]


@pytest.mark.parametrize(("args", "csv", "needle"), [
    (["assign", "--method", "mean"], "lab,result\nA,1\nB,x\n", "line 3, field 'result'"),
    (["assign", "--method", "mean"], "lab,value\nA,1\n", "line 1, field 'result'"),
    (["assign", "--method", "algorithm-a"], "lab,result,analyte\nA,1,p\nB,2,q\nC,2.5,q\n", "line 2, field 'result'"),
    (["assign", "--method", "algorithm-a"], "lab,result\nA,1\nB,1\nC,1\n", "line 2, field 'result'"),
    (["score", "--assigned", "1", "--sigma-pt", "0.1"], "lab,result,uncertainty\nA,1,-2\n", "field 'uncertainty'"),
    (["score", "--assigned", "1", "--sigma-pt", "0"], "lab,result\nA,1\n", "--sigma-pt"),
    (["homogeneity", "--sigma-pt", "0.1"], "item,replicate,result\n1,1,1\n1,2,1.1\n2,1,1\n", "line 4"),
    (["homogeneity", "--sigma-pt", "0.1"], "item,replicate,result\n1,1,1\n1,1,1.1\n", "line 3, field 'replicate'"),
])
def test_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], csv: str,
                          needle: str) -> None:
    path = write(tmp_path, "bad.csv", csv)
    code = main(["pt", args[0], path, *args[1:], "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    if not needle.startswith("--"):  # a bad option names the option, bad data names the file
        assert "bad.csv" in err, err
