"""The commodity classification (pure): the packaged file parses, bad files are refused naming line and
field, and the rule that picks the row (own commodity over subgroup over group; a ban over any limit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from lims.limits import load_starter_table
from lims.limits.checks import shown_limit_check
from lims.limits.classification import ClassificationError, choose, load_classification, parse_classification
from lims.vocabulary import CommodityLevel, MatchedVia

HEADER = "code,name_zh,name_en,parent_code,kind,aliases,source\n"


@pytest.fixture(scope="module")
def nodes():
    return {n.code: n for n in load_classification()}


def _path(nodes, code):
    out = []
    node = nodes[code]
    while node.parent_code:
        node = nodes[node.parent_code]
        out.append(node.name_zh)
    return list(reversed(out))


def test_packaged_classification_places_the_issue_examples(nodes):
    assert _path(nodes, "JIANGDOU") == ["蔬菜", "豆类蔬菜"]
    assert nodes["VEG-LEGUME"].kind is CommodityLevel.SUBGROUP and nodes["VEG"].kind is CommodityLevel.GROUP
    # GB 2763-2021 names the subgroup 浆果和其他小型类水果 (http://2763.foodvip.net/pesticides/limit/68.html);
    # the 2016 name 浆果和其他小型水果 finds it too
    assert _path(nodes, "LANMEI") == ["水果", "浆果和其他小型类水果"]
    assert "浆果和其他小型水果" in nodes["FRUIT-BERRY"].aliases
    # GB 31650-2019 target tissues: species × tissue under the tissue, under 动物性食品
    assert _path(nodes, "PIG-LIVER") == ["动物性食品", "肝"]
    assert _path(nodes, "ZHUROU") == ["动物性食品", "肌肉", "猪肌肉"]
    assert {"CHICKEN-EGG", "CATTLE-MILK", "FISH"} <= set(nodes)
    assert all(n.name_en for n in nodes.values())


def test_every_commodity_of_the_starter_table_is_in_the_classification(nodes):
    names = {name for n in nodes.values() for name in (n.name_zh, *n.aliases)}
    missing = {r.commodity_zh for r in load_starter_table().accepted} - names
    assert missing == set()


@pytest.mark.parametrize(("rows", "line", "field"), [
    ("VEG,蔬菜,vegetables,,group,,x\nVEG,蔬菜2,veg2,,group,,x\n", 3, "code"),  # code used twice
    ("VEG,蔬菜,vegetables,,group,,x\nA,豇豆,cowpea,NOPE,commodity,,x\n", 3, "parent_code"),
    ("VEG,蔬菜,vegetables,,kingdom,,x\n", 2, "kind"),
    ("A,豇豆,cowpea,,commodity,,x\n", 2, "parent_code"),  # only a group may be a root
    ("VEG,蔬菜,vegetables,,group,,x\nA,,cowpea,VEG,commodity,,x\n", 3, "name_zh"),
    ("VEG,蔬菜,vegetables,,group,青菜,x\nA,小白菜,pak choi,VEG,commodity,青菜,x\n", 3, "aliases"),
])
def test_bad_classification_is_refused_naming_line_and_field(rows, line, field):
    with pytest.raises(ClassificationError) as err:
        parse_classification(HEADER + rows, source="c.csv")
    assert (err.value.line, err.value.field) == (line, field)
    assert f"c.csv, line {line}" in str(err.value)


def test_missing_column_is_refused():
    with pytest.raises(ClassificationError) as err:
        parse_classification("code,name_zh,parent_code\nVEG,蔬菜,\n", source="c.csv")
    assert err.value.field == "name_en"


@dataclass(frozen=True)
class Row:
    name: str
    limit_type: str = "MRL"
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


def test_own_commodity_wins_over_subgroup_and_subgroup_over_group():
    own, sub, group = Row("豇豆 0.1"), Row("豆类蔬菜 0.2"), Row("蔬菜 0.5")
    m = choose([[own], [sub], [group]])
    assert (m.row, m.depth, m.matched_via) == (own, 0, MatchedVia.COMMODITY)
    m = choose([[], [sub], [group]])
    assert (m.row, m.depth, m.matched_via) == (sub, 1, MatchedVia.GROUP)
    m = choose([[], [], [group]])
    assert (m.row, m.depth) == (group, 2)
    assert choose([[], [], []]) is None


def test_a_ban_wins_whatever_the_table_says():
    mrl, ban = Row("猪肌肉 MRL"), Row("No. 250", "banned")
    m = choose([[mrl], [], [ban]])
    assert m.row is ban and m.banned and m.matched_via is MatchedVia.GROUP


def test_rows_not_in_force_on_the_date_are_ignored():
    old = Row("old", valid_until=dt.date(2021, 9, 2))
    new = Row("new", valid_from=dt.date(2021, 9, 3))
    assert choose([[old, new]], dt.date(2021, 1, 1)).row is old
    assert choose([[old, new]], dt.date(2022, 1, 1)).row is new
    assert choose([[new]], dt.date(2020, 1, 1)) is None


def test_shown_check_warns_on_unverified_and_no_limit_and_never_on_screening():
    unverified = {"flag": "unverified_limit", "limit_type": "MRL", "verified": False,
                  "source_standard": "GB 2763-2021", "source_clause": "4.121", "matched_via": "group"}
    shown = shown_limit_check(unverified, kind="confirmatory", verdict="compliant")
    assert "未经核对" in shown["warning_zh"] and "GB 2763-2021 4.121" in shown["warning_zh"]
    assert shown["matched_via_label"] == "所属类别的限量" and shown["needs_judgement"] is False
    verified = shown_limit_check({**unverified, "flag": "verified_limit", "verified": True},
                                 kind="confirmatory", verdict="compliant")
    assert verified["warning_zh"] is None
    none = shown_limit_check(None, kind="confirmatory", verdict="not_evaluated")
    assert none["flag_label"] == "无限量标准" and none["needs_judgement"] is True
    assert shown_limit_check(None, kind="screening", verdict="screen_negative") is None
