"""Validation of a lab-maintained limit CSV: every bad row is rejected with its line and field."""

from __future__ import annotations

import pytest

from lims.limits import (
    LimitsCsvError,
    LimitType,
    cas_is_valid,
    parse_limits_csv,
    read_limits_csv,
)
from lims.units import canonical_unit, to_mg_per_kg

HEADER = (
    "commodity_zh,commodity_en,commodity_category,analyte_zh,analyte_en,cas,residue_definition,"
    "limit_type,limit_value,unit,source_standard,source_clause,notes"
)
GOOD = "芹菜,celery,蔬菜/叶菜类蔬菜,毒死蜱,chlorpyrifos,2921-88-2,毒死蜱,MRL,0.05,mg/kg,GB 2763-2021,4.121,n"
BANNED = "猪肉,pork,动物性食品,克仑特罗,clenbuterol,37148-27-9,克仑特罗,banned,,,农业农村部公告第250号,清单,n"


def parse(*lines: str):
    return parse_limits_csv("\n".join(lines) + "\n", source="t.csv")


def only_rejection(report):
    assert len(report.rejected) == 1, report.rejected
    return report.rejected[0]


def test_good_rows_are_accepted_with_typed_fields():
    report = parse(HEADER, GOOD, BANNED)
    assert report.rejected == () and report.ok
    mrl, banned = report.accepted
    assert (mrl.line, mrl.limit_type, mrl.limit_value, mrl.unit) == (2, LimitType.MRL, 0.05, "mg/kg")
    assert (banned.line, banned.limit_type, banned.limit_value, banned.unit) == (
        3,
        LimitType.BANNED,
        None,
        None,
    )
    assert banned.limit_mg_kg is None


def test_bom_case_insensitive_headers_and_extra_columns_are_tolerated():
    header = "\ufeffExtra," + HEADER.upper() + ",Comment"
    report = parse(header, "x," + GOOD + ",y")
    assert report.rejected == ()
    assert report.accepted[0].analyte_zh == "毒死蜱"
    assert report.accepted[0].notes == "n"


def test_optional_columns_may_be_absent():
    header = (
        "commodity_zh,analyte_zh,residue_definition,limit_type,limit_value,unit,source_standard,source_clause"
    )
    report = parse(header, "黄瓜,啶虫脒,啶虫脒,MRL,1,mg/kg,GB 2763-2021,4.x")
    assert report.rejected == ()
    assert report.accepted[0].commodity_en == "" and report.accepted[0].cas == ""


def test_missing_required_column_rejects_header_and_every_row():
    header = HEADER.replace(",source_standard", "")
    row = GOOD.replace(",GB 2763-2021", "")
    report = parse(header, row, row)
    assert report.accepted == ()
    assert [(r.line, r.field) for r in report.rejected] == [
        (1, "source_standard"),
        (2, "source_standard"),
        (3, "source_standard"),
    ]
    assert "missing from header" in report.rejected[0].reason


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [("abc", "not a number"), ("-0.5", "must be positive"), ("0", "must be positive"), ("nan", "finite")],
)
def test_bad_limit_value_is_rejected(value, reason_part):
    report = parse(HEADER, GOOD.replace(",0.05,", f",{value},"))
    rejected = only_rejection(report)
    assert (rejected.line, rejected.field) == (2, "limit_value")
    assert reason_part in rejected.reason
    assert rejected.raw.startswith("芹菜,")


def test_mrl_without_value_is_rejected():
    rejected = only_rejection(parse(HEADER, GOOD.replace(",0.05,", ",,")))
    assert (rejected.line, rejected.field) == (2, "limit_value")


def test_unknown_unit_is_rejected():
    rejected = only_rejection(parse(HEADER, GOOD.replace("mg/kg", "ppm")))
    assert (rejected.line, rejected.field) == (2, "unit")
    assert "ppm" in rejected.reason


@pytest.mark.parametrize("spelling", ["µg/kg", "μg/kg", "ug/kg", "UG/KG", "µg / kg"])
def test_microgram_spellings_are_normalised(spelling):
    report = parse(HEADER, GOOD.replace(",0.05,mg/kg,", f",50,{spelling},"))
    assert report.rejected == ()
    row = report.accepted[0]
    assert row.unit == "µg/kg"
    assert row.limit_mg_kg == 0.05  # exactly the double of the literal 0.05


def test_unit_conversion_to_mg_per_kg():
    assert to_mg_per_kg(100, "µg/kg") == 0.1
    assert to_mg_per_kg(0.3, "mg/kg") == 0.3
    assert canonical_unit("MG/KG", ignore_case=True) == "mg/kg"
    with pytest.raises(ValueError, match="unknown unit"):
        to_mg_per_kg(1, "g/kg")


def test_banned_row_with_a_value_is_rejected():
    rejected = only_rejection(parse(HEADER, BANNED.replace("banned,,", "banned,0.1,")))
    assert (rejected.line, rejected.field) == (2, "limit_value")
    assert "must be empty" in rejected.reason


def test_duplicate_row_is_rejected_naming_the_first():
    other_clause = GOOD.replace(",4.121,", ",4.121 again,")
    report = parse(HEADER, GOOD, BANNED, other_clause)
    assert len(report.accepted) == 2
    rejected = only_rejection(report)
    assert (rejected.line, rejected.field) == (4, "analyte_zh")
    assert "duplicate of line 2" in rejected.reason


def test_same_analyte_under_another_residue_definition_or_source_is_not_a_duplicate():
    other_definition = GOOD.replace(",毒死蜱,MRL", ",毒死蜱及其代谢物,MRL")
    other_source = GOOD.replace("GB 2763-2021", "GB 2763.1-2022")
    report = parse(HEADER, GOOD, other_definition, other_source)
    assert report.rejected == () and len(report.accepted) == 3


@pytest.mark.parametrize(
    "column", ["source_standard", "source_clause", "commodity_zh", "analyte_zh", "limit_type"]
)
def test_missing_required_value_is_rejected(column):
    cells = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))
    cells[column] = ""
    rejected = only_rejection(parse(HEADER, ",".join(cells.values())))
    assert (rejected.line, rejected.field) == (2, column)


def test_unknown_limit_type_and_bad_cas_are_rejected():
    report = parse(HEADER, GOOD.replace(",MRL,", ",max,"), GOOD.replace("2921-88-2", "2921-88-3"))
    assert [(r.line, r.field) for r in report.rejected] == [(2, "limit_type"), (3, "cas")]


def test_row_with_too_many_fields_is_rejected_not_shifted():
    rejected = only_rejection(parse(HEADER, GOOD + ",unquoted, comma"))
    assert (rejected.line, rejected.field) == (2, "(row)")


def test_line_numbers_follow_physical_lines_across_quoted_newlines_and_blank_lines():
    multi = GOOD.replace(",n", ',"line one\nline two"')
    bad = BANNED.replace("banned,,", "banned,1,")
    report = parse(HEADER, multi, "", bad)
    assert report.accepted[0].line == 2 and report.accepted[0].notes == "line one\nline two"
    rejected = only_rejection(report)
    assert rejected.line == 5


def test_no_row_is_dropped_silently():
    lines = [GOOD, BANNED, GOOD, GOOD.replace("0.05", "x"), BANNED.replace("猪肉", "牛肉")]
    report = parse(HEADER, *lines)
    assert len(report.accepted) + len(report.rejected) == len(lines)
    assert sorted([r.line for r in report.accepted] + [r.line for r in report.rejected]) == [2, 3, 4, 5, 6]


def test_empty_and_non_utf8_files_raise_limits_csv_error(tmp_path):
    with pytest.raises(LimitsCsvError, match="empty file"):
        parse_limits_csv("", source="e.csv")
    bad = tmp_path / "gbk.csv"
    bad.write_bytes((HEADER + "\n" + GOOD + "\n").encode("gbk"))
    with pytest.raises(LimitsCsvError, match=r"gbk\.csv.*not UTF-8.*byte offset"):
        read_limits_csv(bad)
    with pytest.raises(LimitsCsvError, match="cannot read"):
        read_limits_csv(tmp_path / "missing.csv")


def test_read_limits_csv_reads_a_bom_file(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_bytes(("\ufeff" + HEADER + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    report = read_limits_csv(path)
    assert report.source == str(path) and len(report.accepted) == 1 and report.rejected == ()


def test_cas_check_digit():
    # CAS check-digit rule; 7732-18-5 (water) and 50-00-0 (formaldehyde) are CAS's own examples.
    assert cas_is_valid("7732-18-5") and cas_is_valid("50-00-0")
    assert not cas_is_valid("7732-18-4") and not cas_is_valid("7732185")


def test_verified_and_validity_dates_are_read_and_bad_values_rejected_naming_the_field():
    header = HEADER + ",verified,valid_from,valid_until"
    report = parse(header, GOOD + ",是,2021-09-03,", BANNED + ",,,")
    assert report.rejected == ()
    good, banned = report.accepted
    assert good.verified is True and good.valid_from.isoformat() == "2021-09-03" and good.valid_until is None
    assert banned.verified is False and banned.valid_from is None
    for cells, field in ((",maybe,,", "verified"), (",no,2021-13-01,", "valid_from"),
                         (",no,2022-01-01,2021-01-01", "valid_until")):
        rejected = only_rejection(parse(header, GOOD + cells))
        assert (rejected.line, rejected.field) == (2, field)
