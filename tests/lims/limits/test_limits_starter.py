"""The packaged starter limit table: parses cleanly and every row is cited."""

from __future__ import annotations

from collections import Counter

import pytest

from lims.limits import LimitType, cas_is_valid, load_starter_table

STANDARDS = {"GB 2763-2021", "GB 2763.1-2022", "GB 31650-2019", "农业农村部公告第250号", "农业部公告第193号"}
BAN_LISTS = {"农业农村部公告第250号", "农业部公告第193号"}
# Rows per source as shipped: a floor, so a row lost in an edit fails here instead of silently.
MIN_ROWS_PER_STANDARD = {"GB 2763-2021": 20, "GB 31650-2019": 36, "农业农村部公告第250号": 11}


@pytest.fixture(scope="module")
def report():
    return load_starter_table()


def test_starter_table_has_at_least_50_accepted_and_no_rejected(report):
    assert report.rejected == ()
    assert len(report.accepted) >= max(50, sum(MIN_ROWS_PER_STANDARD.values()))


def test_starter_keeps_its_rows_per_source(report):
    counts = Counter(row.source_standard for row in report.accepted)
    for standard, minimum in MIN_ROWS_PER_STANDARD.items():
        assert counts[standard] >= minimum, (standard, counts[standard])


def test_every_starter_row_names_standard_clause_and_where_it_was_checked(report):
    for row in report.accepted:
        assert row.source_standard in STANDARDS, row
        assert row.source_clause.strip(), row
        assert "http" in row.notes or "DOMAIN.md" in row.notes, row


def test_starter_covers_the_sources(report):
    assert {row.source_standard for row in report.accepted} == STANDARDS


def test_starter_limit_types_and_units_are_consistent(report):
    for row in report.accepted:
        if row.limit_type is LimitType.BANNED:
            assert row.limit_value is None and row.source_standard in BAN_LISTS, row
        else:
            assert row.limit_type is LimitType.MRL and row.limit_value > 0, row
            # GB 31650-2019 states MRLs in µg/kg, GB 2763-2021 in mg/kg.
            expected = "µg/kg" if row.source_standard == "GB 31650-2019" else "mg/kg"
            assert row.unit == expected, row
        if row.cas:
            assert cas_is_valid(row.cas), row


def _find(report, commodity_zh, analyte_zh, residue_definition=None):
    hits = [
        r
        for r in report.accepted
        if r.commodity_zh == commodity_zh
        and r.analyte_zh == analyte_zh
        and (residue_definition is None or r.residue_definition == residue_definition)
    ]
    assert len(hits) == 1, (commodity_zh, analyte_zh, hits)
    return hits[0]


def test_starter_values_match_their_published_sources(report):
    # 芹菜 毒死蜱 ≤ 0.05 mg/kg, judged under GB 2763-2021: SAMR notice, Yulin, Dec 2021
    # (http://www.sh1j2.com/ms/content/2021-12/08/content_8761242.htm).
    assert _find(report, "芹菜", "毒死蜱").limit_mg_kg == pytest.approx(0.05)
    # GB 2763-2021: 豆类蔬菜 甲基异柳磷 0.01 mg/kg; 山药 咪鲜胺和咪鲜胺锰盐 0.3 mg/kg
    # (Qidong SAMR sampling notice 2024 No. 2).
    assert _find(report, "豆类蔬菜", "甲基异柳磷").limit_mg_kg == pytest.approx(0.01)
    assert _find(report, "山药", "咪鲜胺和咪鲜胺锰盐").limit_mg_kg == pytest.approx(0.3)
    # GB 2763-2021: 香蕉 吡虫啉 0.05 mg/kg (Jiangsu SAMR notice 2022 No. 30, confirmed by Zichuan 2022 and
    # Suzhou High-tech Zone 2024); 姜 噻虫胺 0.2 mg/kg (Zichuan 2022 No. 35 and Ningshan 2024 No. 4).
    banana = _find(report, "香蕉", "吡虫啉")
    assert (banana.limit_mg_kg, banana.unit, banana.source_standard) == (pytest.approx(0.05), "mg/kg", "GB 2763-2021")
    assert _find(report, "姜", "噻虫胺").limit_mg_kg == pytest.approx(0.2)
    # 生姜 噻虫嗪 ≤ 0.3 mg/kg (Ningshan County SAMR notice 2024 No. 4, https://www.ningshan.gov.cn/Content-2756105.html)
    assert _find(report, "姜", "噻虫嗪").limit_mg_kg == pytest.approx(0.3)
    # GB 31650-2019 albendazole, all food-producing animals: liver 5000 µg/kg, milk 100 µg/kg
    # (tabulation at https://m.bco-outlet.com/hy/216.html).
    liver = _find(report, "所有食品动物肝", "阿苯达唑")
    assert (liver.limit_value, liver.unit, liver.limit_mg_kg) == (5000.0, "µg/kg", pytest.approx(5.0))
    assert _find(report, "所有食品动物奶", "阿苯达唑").limit_value == 100.0
    # Eprinomectin, cattle milk 20 µg/kg (same tabulation).
    assert _find(report, "牛奶", "乙酰氨基阿维菌素").limit_value == 20.0


def test_starter_banned_list_includes_the_substances_named_in_domain_md(report):
    banned = {r.analyte_en for r in report.accepted if r.limit_type is LimitType.BANNED}
    # DOMAIN.md: "clenbuterol and other β-agonists, chloramphenicol, nitrofurans, malachite green".
    assert {"clenbuterol", "chloramphenicol", "furazolidone", "malachite green"} <= banned


def test_no_starter_row_is_marked_verified_and_every_row_has_its_edition_date(report):
    # No standard's own text is available to this project: every row is cited, none checked against it.
    assert not any(row.verified for row in report.accepted)
    in_force = {"GB 2763-2021": "2021-09-03", "GB 31650-2019": "2020-04-01", "农业农村部公告第250号": "2019-12-27",
                "GB 2763.1-2022": "2023-05-11", "农业部公告第193号": "2002-05-15"}
    for row in report.accepted:
        assert row.valid_from is not None and row.valid_from.isoformat() == in_force[row.source_standard], row


def test_chives_procymidone_changes_with_gb_2763_1_2022(report):
    # 韭菜 腐霉利 0.2 mg/kg (GB 2763-2021) → 5 mg/kg (GB 2763.1-2022): http://www.zstrip.cn/news2210.html
    rows = {r.source_standard: r for r in report.accepted if (r.commodity_zh, r.analyte_zh) == ("韭菜", "腐霉利")}
    old, new = rows["GB 2763-2021"], rows["GB 2763.1-2022"]
    assert (old.limit_mg_kg, new.limit_mg_kg) == (pytest.approx(0.2), pytest.approx(5.0))
    assert old.valid_until is not None and new.valid_from is not None
    assert (new.valid_from - old.valid_until).days == 1
