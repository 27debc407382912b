"""`lims pt assign|score` on a plain CSV (read column-wise, lims.cli.pt_ingest; Algorithm A of equal-size
analytes together, proficiency.batch.algorithm_a_each) print exactly what the row-by-row reader prints.

The row-by-row path is forced without touching the code: the same file with its header cell ``lab`` quoted
(``"lab"`` is the same column to the csv module, and a quote makes the file not plain)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.cli import main
from lims.cli.pt_ingest import Columns, groups_in_order, read_columns, text_codes
from proficiency import robust
from proficiency.batch import algorithm_a_each


def both(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *argv: str) -> tuple[str, str]:
    """(plain run, row-by-row run): each as exit code, stdout and stderr in one string."""
    outs = []
    for name, body in (("plain.csv", text), ("rows.csv", text.replace("lab", '"lab"', 1))):
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        code = main(["pt", *argv[:1], str(path), *argv[1:]])
        out, err = capsys.readouterr()
        outs.append(f"{code}\n{out}\n{err.replace(str(path), 'FILE')}")
    return outs[0], outs[1]


def round_csv(seed: int, labs: int = 40, analytes: int = 12, extra: str = "") -> str:
    rng = np.random.default_rng(seed)
    lines = ["lab,analyte,result,uncertainty" + extra]
    for a in range(analytes):
        level = rng.lognormal(-2, 1)
        for lab in range(labs):
            if rng.random() < 0.15:
                continue
            x = round(level * (1 + 0.2 * rng.standard_normal()) * (5 if rng.random() < 0.04 else 1), 4)
            lines.append(f"L{lab:03d},A{(a * 7) % analytes:02d},{x!r},{round(abs(x) * 0.4, 5)!r}" + extra)
    return "\n".join(lines) + "\n"


def test_plain_csv_is_read_column_wise() -> None:
    text = "Lab , RESULT,analyte\nL1,0.5,A\nL2,0.7,B\n"
    path = Path(__file__).parent / "_plain.csv"
    try:
        path.write_text(text, encoding="utf-8")
        cols = read_columns(path, ["lab", "result"], ["analyte", "k"])
        assert cols is not None and cols.cells == {"lab": ["L1", "L2"], "result": ["0.5", "0.7"],
                                                   "analyte": ["A", "B"]}
        for bad in ('lab,result\n"L1",0.5\n', "lab,result\r\nL1,0.5\r\n", "lab,result\nL1,0.5\n\nL2,0.6\n",
                    "lab,result\nL1,0.5,3\nL2\n", "lab,result\n", "lab,value\nL1,0.5\n"):
            path.write_text(bad, encoding="utf-8")
            assert read_columns(path, ["lab", "result"], []) is None, bad
    finally:
        path.unlink()


@pytest.mark.parametrize("method", ["algorithm-a", "median", "mean", "q-hampel"])
def test_assign_same_as_row_by_row(tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str) -> None:
    plain, rows = both(tmp_path, capsys, round_csv(7), "assign", "--method", method, "--json")
    assert plain == rows and plain.startswith("0\n")


@pytest.mark.parametrize("text", [
    "lab,result,analyte\nL1,0.5,A\nL2,0.5,A\nL3,0.7,B\nL4,0.9,B\n",  # no spread in A: exit 2 at its line
    "lab,result,analyte\nL1,0.5,A\nL2,0.6,A\nL3,0.7,B\n",  # one result for B
    "lab,result,analyte\nL1,0.5,A\nL2,x,A\n",  # not a number
    "lab,result,analyte\nL1,0.5,A\n ,0.6,A\n",  # lab missing
    "lab,result,analyte\nL1,0.5, A \nL2,0.6,A\nL3,0.7,\nL4,0.8, \n",  # blanks around, analyte blank
    "lab,result\nL1,0.5\nL2,0.6\nL3,0.9\n",  # no analyte column
    "lab,result,analyte\nL1,inf,A\nL2,0.6,A\n",
])
def test_assign_faults_and_edges_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    for method in ("algorithm-a", "median"):
        plain, rows = both(tmp_path, capsys, text, "assign", "--method", method, "--json")
        assert plain == rows


@pytest.mark.parametrize("argv", [
    ["--assigned", "0.1", "--u-assigned", "0.004", "--sigma-pt", "0.02"],
    ["--assigned", "0.1", "--u-assigned", "0.01", "--sigma-pt", "0.02"],  # z'
    ["--assigned", "0", "--sigma-pt", "0.02"],  # no D %
    ["--assigned", "0.2", "--sigma", "horwitz"],
])
def test_score_same_as_row_by_row(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    for text in (round_csv(3), round_csv(4, extra=",2.5").replace("uncertainty", "uncertainty,k", 1),
                 "lab,result\nL1,0.1\nL2,0.31\n", "lab,result,uncertainty\nL1,0.1,0\nL2,0.31,0.05\n",
                 'lab,result\nL"1,0.1\nL\\2,0.3\n',
                 "lab,result,uncertainty\nL1,1e-07,1e-09\nL2,12345678901234567.0,0.5\nL3,-0.0,0.001\n"):
        plain, rows = both(tmp_path, capsys, text, "score", *argv, "--json")
        assert plain == rows and plain.startswith("0\n")
        plain, rows = both(tmp_path, capsys, text, "score", *argv)
        assert plain == rows


@pytest.mark.parametrize("text", [
    "lab,result,uncertainty\nL1,0.1,-1\n", "lab,result,uncertainty,k\nL1,0.1,0.1,0\n",
    "lab,result,uncertainty\nL1,0.1,\nL2,0.2,0.1\n", "lab,result\nL1,1e308\nL2,-1e308\n",
])
def test_score_faults_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    plain, rows = both(tmp_path, capsys, text, "score", "--assigned", "0.1", "--sigma-pt", "1e-300", "--json")
    assert plain == rows


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: round(v, 3)), min_size=0,
                         max_size=25), min_size=1, max_size=12))
def test_algorithm_a_each_is_algorithm_a(samples: list[list[float]]) -> None:
    for sample, got in zip(samples, algorithm_a_each(samples), strict=True):
        try:
            want = robust.algorithm_a(sample)
        except Exception:  # noqa: BLE001 - whatever it raises, the batch leaves to it
            want = None
        assert got == want


def test_groups_keep_file_order() -> None:
    keys = ["b", "a", "b", "c", "a", "b"]
    groups = groups_in_order(keys, np.arange(6.0))
    assert [(k, first, v.tolist()) for k, first, v in groups] == [
        ("b", 0, [0.0, 2.0, 5.0]), ("a", 1, [1.0, 4.0]), ("c", 3, [3.0])]
    grouped = groups_in_order(["b", "b", "a", "c", "c", "c"], np.arange(6.0))  # a file sorted by analyte
    assert [(k, first, v.tolist()) for k, first, v in grouped] == [
        ("b", 0, [0.0, 1.0]), ("a", 2, [2.0]), ("c", 3, [3.0, 4.0, 5.0])]


def test_score_with_repeated_values_same_as_row_by_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # results repeat (reported to few figures): each distinct value is formatted once (lims.cli.pt._float_texts);
    # 0.1 − 0.1 = 0.0 and −0.0 must stay apart, exponents as json writes them
    values = ["0.1", "-0.0", "0.0", "1e-07", "0.12", "12345678901234567.0", "0.09"]
    rows = [f"L{i:03d},{values[i % len(values)]},{['0.01', '0.02'][i % 2]}" for i in range(200)]
    text = "lab,result,uncertainty\n" + "\n".join(rows) + "\n"
    for argv in (["--assigned", "0.1", "--u-assigned", "0.004", "--sigma-pt", "0.02"],
                 ["--assigned", "0", "--sigma-pt", "0.02"]):
        plain, by_row = both(tmp_path, capsys, text, "score", *argv, "--json")
        assert plain == by_row and plain.startswith("0\n") and '"result": -0.0' in plain and "1e-07" in plain


def _columns(tmp_path: Path, text: str, *columns: str) -> Columns:
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    cols = read_columns(path, list(columns), [])
    assert cols is not None
    return cols


_NUMBER = st.one_of(
    st.from_regex(r"\A[+-]?[0-9]{0,19}(\.[0-9]{0,19})?\Z"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e-07", "-0", "-0.0", "+.5", "5.", "007.50", "1_000", "9007199254740993", "0.1e1",
                     "123456789012345", "1234567890123456", "-.0", "1E5", "nan", "inf", "-", ".", "+"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_NUMBER, min_size=1, max_size=30))
def test_numbers_from_bytes_are_float(tmp_path_factory: pytest.TempPathFactory, cells: list[str]) -> None:
    # parsed in numpy (mantissa / 10**fraction digits) where exact, else by float: the very doubles float gives
    tmp = tmp_path_factory.mktemp("n")
    got = _columns(tmp, "lab,result\n" + "".join(f"L,{c}\n" for c in cells), "lab", "result").numbers("result")
    try:
        want = [float(c) for c in cells]
    except ValueError:
        assert got is None
        return
    if not all(np.isfinite(want)):
        assert got is None
    else:
        assert got is not None and np.array_equal(got.view(np.int64), np.array(want).view(np.int64))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text("AaB0-._", min_size=1, max_size=12), min_size=1, max_size=40))
def test_codes_from_bytes_are_text_codes(tmp_path_factory: pytest.TempPathFactory, keys: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("c")
    cols = _columns(tmp, "lab,result\n" + "".join(f"{k},1\n" for k in keys), "lab", "result")
    names, codes = text_codes(keys)
    got = cols.codes("lab")
    assert got is not None and got[0] == names and got[1].tolist() == codes.tolist()


def test_codes_of_many_long_keys_and_blank_cells(tmp_path: Path) -> None:
    keys = [f"sample {i * 7919 % 100003:06d} of lot {i % 97}" for i in range(3000)]  # too many codes: texts
    cols = _columns(tmp_path, "lab,result\n" + "".join(f"{k},1\n" for k in keys), "lab", "result")
    got = cols.codes("lab")
    assert got is not None and got[0] == keys and got[1].tolist() == list(range(3000))
    cols = _columns(tmp_path, "lab,result,analyte\nL1,1,\nL2,2,A\n", "lab", "result", "analyte")
    assert cols.codes("analyte") is None and cols.filled("lab") and not cols.filled("analyte")


def test_combinations_tell_bits_apart() -> None:
    from lims.cli.pt import _combinations

    x = np.array([0.1, -0.0, 0.0, 0.1, 0.2, -0.0, 0.1])
    u = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25])
    heads, combination = _combinations([x, u])
    assert len(heads) == 5 and combination.shape == (7,)
    pairs = list(zip(x.view(np.int64).tolist(), u.tolist(), strict=True))
    for row, c in enumerate(combination.tolist()):  # every row has the bits of its combination's head
        assert pairs[row] == pairs[heads[c]]
    assert len({pairs[h] for h in heads.tolist()}) == len(heads)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.sampled_from([1.0, 1e-300, 1e300, 7.3]), st.integers(0, 2 ** 32))
def test_row_median_is_np_median(size: int, rows: int, scale: float, seed: int) -> None:
    from proficiency.batch import _median_same_size

    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((rows, size)), 2) * scale  # ties and −0.0 included
    x[0, 0] = -0.0
    assert np.array_equal(_median_same_size(x).view(np.int64), np.median(x, axis=1).view(np.int64))
