"""`lims qc westgard` per CONTRACTS.md (Quality control): output keys, default rule sets by level count,
--rules, exit 2 with one stderr line naming file, line and field. Rules: Westgard JO et al., Clin Chem
1981;27:493-501; westgard.com "Westgard Rules"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lims.cli import main

TWO_LEVELS = """run,level,value,mean,sd
1,L1,10.2,10,1
1,L2,50.5,50,2
2,L1,12.3,10,1
2,L2,54.6,50,2
3,L1,9.8,10,1
3,L2,43.7,50,2
"""


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *extra: str) -> tuple[int, str, str]:
    p = tmp_path / "qc.csv"
    p.write_text(text, encoding="utf-8")
    code = main(["qc", "westgard", str(p), *extra, "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def test_two_levels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = _run(capsys, tmp_path, TWO_LEVELS)
    assert code == 0, err
    doc = json.loads(out)
    assert doc == {"runs": [
        {"run": "1", "accepted": True, "warnings": [], "rejections": []},
        # L1 z = 2.3 and L2 z = 2.3 in one run: 2-2s across levels
        {"run": "2", "accepted": False, "warnings": ["1-2s"], "rejections": ["2-2s"]},
        # L2 z = −3.15: 1-3s
        {"run": "3", "accepted": False, "warnings": ["1-2s"], "rejections": ["1-3s"]},
    ]}


def test_three_levels_and_custom_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "RUN,Level,Value,Mean,SD,comment\n" + "".join(
        f"r{r},{lv},{v},0,1,x\n" for r, vals in enumerate([(2.3, 0.1, 2.2), (0, 0, 0)], 1)
        for lv, v in zip(("a", "b", "c"), vals, strict=True))
    code, out, err = _run(capsys, tmp_path, "\ufeff" + text)
    assert code == 0, err
    assert [r["rejections"] for r in json.loads(out)["runs"]] == [["2of3-2s"], []]
    code, out, err = _run(capsys, tmp_path, text, "--rules", "1-3s,R-4s")
    assert code == 0, err
    assert [r["accepted"] for r in json.loads(out)["runs"]] == [True, True]


@pytest.mark.parametrize(("text", "extra", "needle"), [
    ("run,level,value,mean\n1,L1,1,0\n", (), "line 1, field 'sd'"),
    ("run,level,value,mean,sd\n1,L1,abc,0,1\n", (), "line 2, field 'value'"),
    ("run,level,value,mean,sd\n1,L1,1,0,0\n", (), "line 2, field 'sd'"),
    ("run,level,value,mean,sd\n1,L1,1,0,1\n2,L1,1,0,1\n1,L2,1,0,1\n", (), "line 4, field 'run'"),
    ("run,level,value,mean,sd\n1,,1,0,1\n", (), "line 2, field 'level'"),
    ("run,level,value,mean,sd\n", (), "field 'run'"),
    (TWO_LEVELS, ("--rules", "1-3s,5q"), "field '--rules'"),
])
def test_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, extra: tuple[str, ...],
                   needle: str) -> None:
    code, out, err = _run(capsys, tmp_path, text, *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
