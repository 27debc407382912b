"""/api/v1/methods (create, change, list, signatories) and the page /admin/methods over the demo lab: the QA
manager sets methods up, others are refused (API 403 JSON, UI zh-CN 403 page); every change is audited."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims import demo
from lims.db.engine import session_scope
from lims.db.models import AuditEvent
from lims.services import auth
from tests.api.ui_session import signed_in

pytestmark = pytest.mark.db
P = "/api/v1/methods"


@pytest.fixture
def app(db_engine, db_factory):
    demo.seed_reference(db_factory)
    return create_app(db_engine)


def _bearer(db_factory, username: str) -> dict[str, str]:
    with session_scope(db_factory, actor=username) as s:
        token = auth.create_bearer_token(s, auth.get_user(s, username)).token
    return {"Authorization": f"Bearer {token}"}


NEW = {"code": "GB23200-113", "name": "植物源性食品中208种农药及其代谢物残留量的测定 气相色谱-质谱联用法",
       "standard": "GB 23200.113-2018", "kind": "confirmatory", "unit": "mg/kg", "analytes": ["CHLORPYRIFOS"]}


def test_api_create_change_grant_revoke_and_refusals(app, db_factory):
    c = TestClient(app)
    qa, tech, admin = (_bearer(db_factory, u) for u in ("wangfang", "zhangwei", "admin"))
    r = c.post(P, json=NEW, headers=qa)
    assert r.status_code == 201, r.text
    assert r.json()["analytes"] == ["CHLORPYRIFOS"] and r.json()["signatories"] == []
    assert c.post(P, json=NEW, headers=qa).json()["detail"]["code"] == "method.exists"
    bad = c.post(P, json={**NEW, "code": "X-1", "analytes": ["NO-SUCH"]}, headers=qa)
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "analytes" and "NO-SUCH" in bad.text
    lod = c.put(f"{P}/GB23200-113", json={**NEW, "lod_mg_kg": 0.02, "loq_mg_kg": 0.01}, headers=qa)
    assert lod.status_code == 422 and lod.json()["detail"]["field"] == "loq_mg_kg"
    r = c.put(f"{P}/GB23200-113", json={k: v for k, v in NEW.items() if k not in {"code", "analytes"}}
              | {"loq_mg_kg": 0.01}, headers=qa)
    assert r.status_code == 200 and r.json()["loq_mg_kg"] == 0.01 and r.json()["analytes"] == ["CHLORPYRIFOS"]
    assert c.put(f"{P}/NOPE", json={**NEW}, headers=qa).status_code == 404
    r = c.post(f"{P}/GB23200-113/signatories", json={"username": "zhangwei", "reason": "任命授权签字人"}, headers=qa)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "method.not_approver"
    r = c.post(f"{P}/GB23200-113/signatories", json={"username": "wangfang", "reason": "任命授权签字人"}, headers=qa)
    assert r.status_code == 201 and r.json()["signatories"] == ["wangfang"]
    listed = {m["code"]: m for m in c.get(P, headers=tech).json()}  # every lab role reads the list
    assert listed["GB23200-113"]["signatories"] == ["wangfang"] and listed["GC-OP"]["analytes"] == ["CHLORPYRIFOS"]
    r = c.delete(f"{P}/GB23200-113/signatories/wangfang", params={"reason": "调离检测岗位"}, headers=qa)
    assert r.status_code == 200 and r.json()["signatories"] == []
    assert c.delete(f"{P}/GB23200-113/signatories/wangfang", params={"reason": "再次撤销该签字人"},
                    headers=qa).json()["detail"]["code"] == "method.not_signatory"
    for who in (tech, admin):  # methods:manage is the QA manager's
        assert c.post(P, json={**NEW, "code": "Y-1"}, headers=who).status_code == 403
        assert c.post(f"{P}/GC-OP/signatories", json={"username": "wangfang", "reason": "任命授权签字人"},
                      headers=who).status_code == 403
        assert c.delete(f"{P}/GC-OP/signatories/wangfang", params={"reason": "撤销测试"}, headers=who).status_code == 403
    with db_factory() as s:
        events = s.execute(select(AuditEvent.table_name, AuditEvent.actor, AuditEvent.reason)
                           .where(AuditEvent.table_name.in_(("method", "method_scope", "method_signatory")),
                                  AuditEvent.actor == "wangfang")).all()
    assert {("method", "wangfang", "create method"), ("method_scope", "wangfang", "create method"),
            ("method", "wangfang", "change method"), ("method_signatory", "wangfang", "任命授权签字人"),
            ("method_signatory", "wangfang", "调离检测岗位")} <= set(events)


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_page_lists_methods_and_the_qa_manager_changes_them(app, db_factory):
    qa = signed_in(app, "wangfang")
    page = qa.get("/admin/methods")
    assert page.status_code == 200 and "检测方法与授权签字人" in page.text and "GB/T 22286-2008" in page.text
    assert "CLENBUTEROL, RACTOPAMINE, SALBUTAMOL" in page.text and "<script" not in page.text
    token = CSRF.search(page.text).group(1)
    form = {"csrf_token": token, "code": "GB23200-113", "name": NEW["name"], "standard": NEW["standard"],
            "kind": "confirmatory", "unit": "mg/kg", "lod_mg_kg": "", "loq_mg_kg": "0.01",
            "decision_rule": "simple_acceptance", "report_figures": "", "report_decimals": "",
            "analytes": "CHLORPYRIFOS；ISOFENPHOS-METHYL", "reason": "新增确证方法"}
    r = qa.post("/admin/methods", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    bad = qa.post("/admin/methods", data={**form, "code": "Z-1", "loq_mg_kg": "abc"})
    assert bad.status_code == 422 and "请输入数字" in bad.text and 'value="Z-1"' in bad.text
    bad = qa.post("/admin/methods", data={**form, "code": "Z-1", "analytes": "NOPE"})
    assert bad.status_code == 422 and "检测范围中有不存在的检测项目代码" in bad.text
    edit = qa.get("/admin/methods/GB23200-113")
    assert edit.status_code == 200 and "CHLORPYRIFOS; ISOFENPHOS-METHYL" in edit.text
    r = qa.post("/admin/methods/GB23200-113", data={**form, "analytes": "CHLORPYRIFOS", "reason": "缩小检测范围"},
                follow_redirects=False)
    assert r.status_code == 303
    r = qa.post("/admin/methods/GB23200-113/signatories", data={"csrf_token": token, "username": "wangfang",
                                                                "reason": "任命授权签字人"}, follow_redirects=False)
    assert r.status_code == 303
    listing = qa.get(r.headers["location"]).text
    assert "已授予授权签字人资格" in listing and "/admin/methods/GB23200-113/signatories/wangfang/revoke" in listing
    short = qa.post("/admin/methods/GB23200-113/signatories/wangfang/revoke", data={"csrf_token": token, "reason": "短"})
    assert short.status_code == 422 and "请填写原因" in short.text
    r = qa.post("/admin/methods/GB23200-113/signatories/wangfang/revoke",
                data={"csrf_token": token, "reason": "调离检测岗位"}, follow_redirects=False)
    assert r.status_code == 303
    with db_factory() as s:
        reasons = set(s.execute(select(AuditEvent.reason).where(AuditEvent.actor == "wangfang",
                                                                AuditEvent.table_name.like("method%"))).scalars())
    assert {"新增确证方法", "缩小检测范围", "任命授权签字人", "调离检测岗位"} <= reasons


def test_others_see_the_list_but_cannot_change_it(app):
    for username in ("liqiang", "admin"):
        c = signed_in(app, username)
        page = c.get("/admin/methods")
        assert page.status_code == 200 and "GC-OP" in page.text
        assert 'action="/admin/methods"' not in page.text and "/revoke" not in page.text
        token = CSRF.search(page.text).group(1)
        r = c.post("/admin/methods/GC-OP/signatories", data={"csrf_token": token, "username": username,
                                                             "reason": "任命授权签字人"})
        assert r.status_code == 403 and "维护方法质控限值" in r.text
        assert c.get("/admin/methods/GC-OP").status_code == 403
    assert 'href="/admin/methods"' in signed_in(app, "admin").get("/admin/users").text


A = "/api/v1/analytes"
PHOXIM = {"code": "PHOXIM", "name_zh": "辛硫磷", "name_en": "phoxim", "cas": "14816-18-3", "kind": "pesticide",
          "reason": "新增检测项目（韭菜专项）"}


def test_api_analytes_create_change_list_and_refusals(app, db_factory):
    c = TestClient(app)
    qa, tech, admin = (_bearer(db_factory, u) for u in ("wangfang", "zhangwei", "admin"))
    r = c.post(A, json=PHOXIM, headers=qa)
    assert r.status_code == 201, r.text
    assert r.json() == {k: v for k, v in PHOXIM.items() if k != "reason"}
    assert c.post(A, json=PHOXIM, headers=qa).json()["detail"]["code"] == "analyte.exists"
    bad = c.post(A, json={**PHOXIM, "code": "PHOXIM-2", "name_zh": "辛硫磷二", "cas": "14816-18-4"}, headers=qa)
    assert bad.status_code == 422 and bad.json()["detail"] == {**bad.json()["detail"], "field": "cas",
                                                               "code": "analyte.invalid"}
    twin = c.post(A, json={**PHOXIM, "code": "CPF", "name_zh": "毒死蜱", "cas": "2921-88-2"}, headers=qa)
    assert twin.status_code == 409 and twin.json()["detail"]["code"] == "analyte.name_exists"
    assert c.post(A, json={**PHOXIM, "code": "A/B"}, headers=qa).status_code == 422  # not a reachable code
    assert c.post(A, json={**PHOXIM, "code": "X-1", "reason": "短"}, headers=qa).status_code == 422
    change = {k: v for k, v in PHOXIM.items() if k != "code"} | {"kind": "banned", "reason": "按公告改为禁用"}
    r = c.put(f"{A}/PHOXIM", json=change, headers=qa)
    assert r.status_code == 200 and r.json()["kind"] == "banned"
    assert c.put(f"{A}/NOPE", json=change, headers=qa).status_code == 404
    # a scope may name it now
    r = c.post(P, json={**NEW, "analytes": ["CHLORPYRIFOS", "PHOXIM"]}, headers=qa)
    assert r.status_code == 201 and r.json()["analytes"] == ["CHLORPYRIFOS", "PHOXIM"]
    listed = {a["code"]: a for a in c.get(A, headers=tech).json()}  # every lab role reads the list
    assert listed["OP-CARB"]["kind"] == "group" and listed["PHOXIM"]["kind"] == "banned"
    for who in (tech, admin):  # methods:manage is the QA manager's
        assert c.post(A, json={**PHOXIM, "code": "Y-1", "name_zh": "某农药"}, headers=who).status_code == 403
        assert c.put(f"{A}/PHOXIM", json=change, headers=who).status_code == 403
    with db_factory() as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.reason).where(AuditEvent.table_name == "analyte",
                                                                              AuditEvent.actor == "wangfang")).all()
    assert [(str(a), r) for a, r in events] == [("create", "新增检测项目（韭菜专项）"), ("update", "按公告改为禁用")]


def test_page_lists_analytes_and_the_qa_manager_adds_one(app, db_factory):
    qa = signed_in(app, "wangfang")
    page = qa.get("/admin/methods")
    assert page.status_code == 200 and 'id="analytes"' in page.text and "有机磷和氨基甲酸酯类农药" in page.text
    assert 'action="/admin/analytes"' in page.text and "2921-88-2" in page.text
    token = CSRF.search(page.text).group(1)
    form = {"csrf_token": token, "code": "PHOXIM", "name_zh": "辛硫磷", "name_en": "phoxim", "cas": "14816-18-4",
            "kind": "pesticide", "reason": "新增检测项目（韭菜专项）"}
    bad = qa.post("/admin/analytes", data=form)
    assert bad.status_code == 422 and "CAS 号须校验位正确" in bad.text and 'value="14816-18-4"' in bad.text
    assert 'name="cas" maxlength="30" size="12" value="14816-18-4" class="field-error"' in bad.text
    r = qa.post("/admin/analytes", data={**form, "cas": "14816-18-3"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    listing = qa.get(r.headers["location"]).text
    assert "已新增检测项目" in listing and "14816-18-3" in listing
    assert qa.post("/admin/analytes", data={**form, "cas": "14816-18-3"}).status_code == 409
    with db_factory() as s:
        assert s.execute(select(AuditEvent.reason).where(AuditEvent.table_name == "analyte",
                                                         AuditEvent.actor == "wangfang")).scalars().all() == \
            ["新增检测项目（韭菜专项）"]
    tech = signed_in(app, "zhangwei")
    page = tech.get("/admin/methods")
    assert page.status_code == 200 and "OP-CARB" in page.text and 'action="/admin/analytes"' not in page.text
    r = tech.post("/admin/analytes", data={**form, "code": "Y-1", "csrf_token": CSRF.search(page.text).group(1)})
    assert r.status_code == 403
