"""lims.csvio, the one CSV reader: BOM, case-insensitive header, extra columns, errors naming file/line/field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lims.csvio import CsvError, CsvTable, decode, read_bytes


def test_bom_case_insensitive_header_extra_columns_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeff Lab ,RESULT,comment\r\nA,1.5,x\r\n\r\n,,\r\nB,2\r\n".encode())
    table = CsvTable.from_file(path)
    assert table.header == ("lab", "result", "comment")
    rows = list(table.rows(["lab", "Result"]))
    assert [(r.line, r.values) for r in rows] == [(2, {"lab": "A", "result": "1.5"}),
                                                 (5, {"lab": "B", "result": "2"})]


def test_a_quoted_cell_over_two_lines_is_one_record_starting_on_its_first_line() -> None:
    table = CsvTable('a,b\n1,"two\nlines"\n3,4\n', source="q.csv")
    records = list(table.records())
    assert [(r.line, r.cells) for r in records] == [(2, ("1", "two\nlines")), (4, ("3", "4"))]
    assert records[0].raw == '1,"two\nlines"'


def test_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    table = CsvTable("lab,value\nA,1\n", source="bad.csv")
    assert table.missing(["lab", "result"]) == ["result"]
    with pytest.raises(CsvError) as err:
        table.require(["lab", "result"])
    assert (err.value.source, err.value.line, err.value.field, err.value.kind) == ("bad.csv", 1, "result",
                                                                                   "missing_column")
    assert str(err.value) == "bad.csv, line 1, field 'result': missing column (header has: lab, value)"


def test_duplicated_columns_and_positions_take_the_first() -> None:
    table = CsvTable("a,B,b,c\n", source="d.csv")
    assert table.duplicated(["a", "b"]) == ["b"]
    assert table.positions(["b", "c", "z"]) == {"b": 1, "c": 3}


def test_non_utf8_names_the_file_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(b"lab,result\n\xb2\xe2,1\n")  # GBK text: 0xB2 cannot start a UTF-8 character
    with pytest.raises(CsvError) as err:
        CsvTable.from_file(path)
    assert err.value.kind == "encoding" and str(path) in str(err.value) and "byte offset 11" in str(err.value)
    with pytest.raises(CsvError, match="not UTF-8"):
        decode(b"\xff", source="x.csv")


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CsvError) as err:
        CsvTable("", source="e.csv")
    assert (err.value.kind, err.value.line) == ("empty", 1)
    with pytest.raises(CsvError) as err:
        read_bytes(tmp_path / "nope.csv")
    assert err.value.kind == "unreadable" and "nope.csv" in str(err.value)


def test_comment_lines_only_when_asked_and_line_numbers_kept() -> None:
    text = "# run sheet\n\n  # another\nrun_no,channel\n# skipped\n7,1\n"
    table = CsvTable(text, source="w.csv", comment="#")
    assert table.header == ("run_no", "channel") and table.header_line == 4
    assert [(r.line, r.values) for r in table.rows(["run_no", "channel"])] == [(6, {"run_no": "7", "channel": "1"})]
    plain = CsvTable(text, source="w.csv")
    assert plain.header == ("# run sheet",)
    with pytest.raises(CsvError) as err:
        CsvTable("# only a comment\n", source="w.csv", comment="#")
    assert err.value.kind == "empty"
