"""`lims calibrate` per CONTRACTS.md: keys, exit codes, one stderr line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lims.cli import main

MILLER = "concentration,response\n0,2.1\n2,5.0\n4,9.0\n6,12.6\n8,17.3\n10,21.0\n12,24.7\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_contract_keys_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "cal.csv"
    p.write_text("\ufeff" + MILLER.replace("concentration,response", "Concentration,Response,extra"))
    code, out, err = _run(capsys, "calibrate", str(p), "--model", "linear", "--predict", "13.5", "--predict",
                          "40", "--json")
    assert code == 0, err
    doc = json.loads(out)
    for key in ("model", "weight", "n", "params", "stderr", "rss", "residual_sd", "r2", "predictions",
                "decision_limit", "lod", "loq", "acceptance"):
        assert key in doc
    assert set(doc["params"]) == {"intercept", "slope"}
    first, second = doc["predictions"]
    assert set(first) >= {"response", "concentration", "stderr", "ci_low", "ci_high"}
    assert round(first["concentration"], 2) == 6.21
    assert second["concentration"] is None and second["out_of_range"] == "above_highest_level"
    assert {"passed", "checks"} <= set(doc["acceptance"])
    assert all({"name", "passed", "value", "limit"} <= set(c) for c in doc["acceptance"]["checks"])


@pytest.mark.parametrize(("model", "names"), [("linear-origin", {"slope"}),
                                               ("quadratic", {"intercept", "slope", "curvature"}),
                                               ("avg-rf", {"rf"})])
def test_param_names(tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, names: set[str]) -> None:
    p = tmp_path / "cal.csv"
    p.write_text("concentration,response\n1,2.0\n2,4.1\n3,5.9\n4,8.2\n5,9.9\n6,12.1\n")
    code, out, _ = _run(capsys, "calibrate", str(p), "--model", model, "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc["params"]) == names and doc["lod"] is None


@pytest.mark.parametrize(("content", "args", "needle"), [
    ("conc,response\n1,2\n", (), "concentration"),
    ("concentration,response\n1,2\n2,abc\n", (), "line 3"),
    ("concentration,response\n0,1\n1,2\n2,3\n3,4\n", ("--weight", "1/x"), "line 2"),
    ("concentration,response\n1,2\n2,3\n", (), "too few points"),
])
def test_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                          args: tuple[str, ...], needle: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content)
    code, out, err = _run(capsys, "calibrate", str(p), "--model", "linear", *args, "--json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and str(p) in err and needle in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "calibrate", str(tmp_path / "nope.csv"), "--model", "linear", "--json")
    assert code == 2 and "nope.csv" in err
