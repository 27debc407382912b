"""One limit (MRL) row added or changed through its form (lims.services.limits.save_limit): checked by the CSV
import's own row rules (the same reason for the same bad row), the field named on refusal, a reason required and
kept in the audit trail with the values before and after, a row that repeats another refused; the QA manager's
(limits:manage) — a technician gets the 403 page and changes nothing."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Limit
from lims.db.models_system import AuditEvent
from lims.demo import seed_reference
from lims.limits import parse_limits_csv
from lims.services import limits
from lims.services.errors import InvalidInput
from lims.services.views import limits as limit_views
from tests.api.ui_session import CSRF, signed_in

HEAD = "commodity_zh,analyte_zh,residue_definition,limit_type,limit_value,unit,source_standard,source_clause\n"
NEW_ROW = {"commodity_zh": "菠菜", "analyte_zh": "乙酰甲胺磷", "analyte_en": "acephate", "cas": "30560-19-1",
           "residue_definition": "乙酰甲胺磷", "limit_type": "MRL", "limit_value": "1", "unit": "mg/kg",
           "source_standard": "GB 2763-2021（实验室核对）", "source_clause": "4.1", "reason": "补录标准新增限量"}


@pytest.fixture
def app(db_engine, db_factory):
    seed_reference(db_factory)  # the starter MRL table
    return create_app(db_engine)


def post(client: TestClient, path: str, data: dict[str, object], *, page: str):
    token = CSRF.search(client.get(page).text).group(1)  # type: ignore[union-attr]
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _a_limit(factory) -> Limit:
    with factory() as s:
        row = next(r for r in limit_views.search_limits(s, text="毒死蜱", limit=50, offset=0).items
                   if r["limit_type"] == "MRL" and r["value_mg_kg"])
        limit = s.get(Limit, row["id"])
        s.expunge(limit)
        return limit


def _form(client: TestClient, limit_id: int) -> dict[str, str]:
    """The edit form's fields as the page fills them in."""
    html = client.get(f"/limits/rows/{limit_id}").text
    values = dict(re.findall(r'<input (?:type="date" )?name="(\w+)"[^>]*?value="([^"]*)"', html))
    values["limit_type"] = re.search(r'<option value="(\w+)" selected', html).group(1)  # type: ignore[union-attr]
    return {k: v for k, v in values.items() if k not in ("csrf_token", "verified")}


def test_a_limit_is_changed_with_a_reason_and_the_change_is_audited(app, db_factory):
    before = _a_limit(db_factory)
    web = signed_in(app, "wangfang")
    page = f"/limits/rows/{before.id}"
    assert f'href="{page}"' in web.get("/limits", params={"q": "毒死蜱"}).text  # an edit link on the table
    form = _form(web, before.id)
    assert form["source_standard"] == before.source_standard and float(form["limit_value"]) > 0
    assert before.value_mg_kg != 0.7
    r = post(web, page, {**form, "limit_value": "0.7", "unit": "mg/kg", "verified": "yes",
                         "valid_from": "2021-09-03", "reason": "按 GB 2763-2021 原文核对更正"}, page=page)
    assert r.status_code == 303 and r.headers["location"] == f"/limits?saved={before.id}#limit-{before.id}"
    assert f"已保存限量 #{before.id}" in web.get(r.headers["location"]).text
    with db_factory() as s:
        after = s.get(Limit, before.id)
        assert (after.value_mg_kg, after.verified, str(after.valid_from)) == (0.7, True, "2021-09-03")
        event = s.execute(select(AuditEvent).where(AuditEvent.table_name == "limit_entry",
                                                   AuditEvent.record_id == str(before.id))
                          .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    assert (event.action, event.actor) == ("update", "wangfang")
    assert "按 GB 2763-2021 原文核对更正" in event.reason
    assert json.loads(event.old)["value_mg_kg"] == before.value_mg_kg and json.loads(event.new)["value_mg_kg"] == 0.7
    # a value in µg/kg is stored in mg/kg, its unit kept, and shown back in µg/kg
    r = post(web, page, {**form, "limit_value": "20", "unit": "μg/kg", "reason": "按 µg/kg 录入"}, page=page)
    assert r.status_code == 303
    with db_factory() as s:
        assert (s.get(Limit, before.id).value_mg_kg, s.get(Limit, before.id).unit) == (pytest.approx(0.02), "µg/kg")
    assert _form(web, before.id)["limit_value"] == "20"


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(app, db_factory):
    before = _a_limit(db_factory)
    web = signed_in(app, "wangfang")
    page = f"/limits/rows/{before.id}"
    form = _form(web, before.id)
    cases = [({"limit_value": "abc"}, "limit_value", "数值无效", "限量值"),
             ({"limit_value": "-1"}, "limit_value", "数值无效", "限量值"),
             ({"unit": "furlongs"}, "unit", "取值不在允许范围内", "单位"),
             ({"limit_type": "banned"}, "limit_value", "数值无效", "限量值"),  # a ban carries no value
             ({"source_clause": ""}, "source_clause", "请填写此项", "条款"),
             ({"valid_from": "2021-13-01"}, "valid_from", "日期格式不正确", "生效日期"),
             ({"valid_from": "2022-01-01", "valid_until": "2021-01-01"}, "valid_until", "日期先后顺序不正确", "失效日期"),
             ({"reason": "改"}, "reason", "请填写此项", "修改原因")]
    for change, field, words, field_words in cases:
        data = {**form, "reason": "核对更正限量值", **change}
        r = post(web, page, data, page=page)
        assert r.status_code == 422, (change, r.text[-400:])
        assert f"<code>{field}</code>" in r.text and words in r.text and field_words in r.text, change
        assert "field-error" in r.text and "未写入任何数据" in r.text
        assert "检测项目</b>：毒死蜱" in r.text  # the row's analyte still shown with the refusal
    with db_factory() as s:
        after = s.get(Limit, before.id)
        assert (after.value_mg_kg, after.unit, after.source_clause, after.valid_from) == \
            (before.value_mg_kg, before.unit, before.source_clause, before.valid_from)
    assert web.get("/limits/rows/999999").status_code == 404


def test_the_row_rules_are_the_csv_imports_own(db_factory):
    seed_reference(db_factory)
    bad = {**NEW_ROW, "cas": "30560-19-2"}  # wrong check digit
    line = ",".join(bad[c] for c in HEAD.strip().split(","))
    csv_head = HEAD.strip() + ",cas\n"
    rejected = parse_limits_csv(csv_head + line + "," + bad["cas"] + "\n").rejected[0]
    with session_scope(db_factory, actor="wangfang", reason="test") as s:
        with pytest.raises(InvalidInput) as refused:
            limits.save_limit(s, bad, reason="补录标准新增限量")
    assert (refused.value.field, str(refused.value)) == (rejected.field, rejected.reason) == \
        ("cas", rejected.reason)


def test_one_row_is_added_audited_and_a_repeat_refused(app, db_factory):
    web = signed_in(app, "wangfang")
    assert 'href="/limits/rows/new"' in web.get("/limits").text
    r = post(web, "/limits/rows", {**NEW_ROW, "cas": "30560-19-2"}, page="/limits/rows/new")
    assert r.status_code == 422 and "<code>cas</code>" in r.text and "CAS 号" in r.text
    r = post(web, "/limits/rows", NEW_ROW, page="/limits/rows/new")
    assert r.status_code == 303, r.text[-400:]
    new_id = int(r.headers["location"].split("saved=")[1].split("#")[0])
    found = web.get("/limits", params={"q": "GB 2763-2021（实验室核对）"}).text
    assert "乙酰甲胺磷" in found and "1 mg/kg" in found
    with db_factory() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.table_name == "limit_entry",
                                                   AuditEvent.record_id == str(new_id))).scalar_one()
    assert event.action == "create" and "补录标准新增限量" in event.reason and event.actor == "wangfang"
    again = post(web, "/limits/rows", NEW_ROW, page="/limits/rows/new")
    assert again.status_code == 409 and "<code>source_standard</code>" in again.text
    assert "已有一条限量记录" in again.text and "该编号已存在" not in again.text  # limits.duplicate_row, not a code
    with db_factory() as s:
        assert len(s.execute(select(Limit).where(Limit.source_standard == NEW_ROW["source_standard"])).all()) == 1


def test_a_technician_may_not_add_or_change_a_limit(app, db_factory):
    before = _a_limit(db_factory)
    tech = signed_in(app, "zhangwei")
    listed = tech.get("/limits").text
    assert "/limits/rows/" not in listed  # no edit links, no add link
    for path in (f"/limits/rows/{before.id}", "/limits/rows/new"):
        r = tech.get(path)
        assert r.status_code == 403 and "limits:manage" in r.text
    for path, data in ((f"/limits/rows/{before.id}", {"limit_value": "9", "reason": "改成九"}), ("/limits/rows", NEW_ROW)):
        r = post(tech, path, data, page="/limits")
        assert r.status_code == 403 and "limits:manage" in r.text
    with db_factory() as s:
        assert s.get(Limit, before.id).value_mg_kg == before.value_mg_kg
        assert not s.execute(select(Limit).where(Limit.source_standard == NEW_ROW["source_standard"])).first()


def test_the_limit_form_is_in_english_for_an_english_user(app, db_factory):
    before = _a_limit(db_factory)
    web = signed_in(app, "wangfang")
    hub = web.get("/quality").text
    web.post("/account/language", data={"csrf_token": CSRF.search(hub).group(1), "language": "en",  # type: ignore[union-attr]
                                        "back": "/quality"})
    page = f"/limits/rows/{before.id}"
    shown = web.get(page).text
    assert '<html lang="en">' in shown and "Reason (kept in the audit trail)" in shown and "修改原因" not in shown
    r = post(web, page, {**_form(web, before.id), "limit_value": "abc", "reason": "typo fix"}, page=page)
    assert r.status_code == 422 and "not a number" in r.text and "limit_value" in r.text
