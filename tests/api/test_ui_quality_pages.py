"""The QA manager's pages through a browser's eyes (TestClient with the session cookie and the CSRF token):
every page renders the demo day's quality data (audit, nonconformities, QC chart, registers, PT round,
monitoring task), an audit finding goes through nonconformity and CAPA to closure by the forms, a bad
limits CSV shows its validation report and imports nothing, dead letters are re-queued with a reason, API
keys are issued and revoked, a technician gets the 403 page where the role lacks the permission, and the
pages are in Chinese by default and in English once the user chose it."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models import OutboxMessage
from lims.demo import PASSWORDS, register_samples, seed_reference
from lims.demo.pt_round import run_demo_round
from lims.demo.quality import run_quality
from lims.demo.registers import run_registers
from lims.quality import nonconformity as ncs
from lims.services import accounts
from lims.services.views import limits as limit_views
from lims.upstream import queue

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Words that are stored codes of the vocabularies: never shown as text to people.
MACHINE_CODES = (">in_progress<", ">root_cause<", ">non_compliant<", ">overdue<", ">reference_material<",
                 ">satisfactory<", ">dead<")


@dataclass
class Lab:
    app: FastAPI
    factory: sessionmaker[Session]
    round_code: str
    audit_code: str
    westgard_nc: int

    def browser(self, username: str) -> TestClient:
        client = TestClient(self.app)
        r = client.post("/login", data={"username": username, "password": PASSWORDS[username],
                                        "csrf_token": csrf_of(client.get("/login").text)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def post(client: TestClient, path: str, data: dict[str, object], *, page: str, files: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **data}, files=files,
                       follow_redirects=False)


def text_of(html: str) -> str:
    main = html[html.index("<main>"):]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


@pytest.fixture
def lab(db_engine, db_factory, tmp_path, monkeypatch) -> Lab:
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    from lims.config import get_settings

    get_settings.cache_clear()
    seed_reference(db_factory)
    register_samples(db_factory)
    quality = run_quality(db_factory)
    run_registers(db_factory)
    pt = run_demo_round(db_factory, out_dir=tmp_path / "pt", participants=6, analytes=2)
    yield Lab(create_app(db_engine), db_factory, pt["round"], f"IA-{utcnow().year}-01", quality["westgard_nc"])
    get_settings.cache_clear()


def test_every_quality_page_renders_the_demo_data_for_the_qa_manager(lab):
    web = lab.browser("wangfang")
    hub = web.get("/quality")
    assert hub.status_code == 200 and 'href="/quality" class="active"' in hub.text
    for href in ("/quality/ncs", "/quality/audits", "/pt", "/quality/registers", "/quality/qc", "/limits", "/tasks",
                 "/upstream"):
        assert f'href="{href}"' in hub.text
    assert "仪器不可用 1" in text_of(hub.text) and "过期批次 1" in text_of(hub.text)
    pages = {
        "/quality/ncs": ["已关闭", "已登记", f"NC-{lab.westgard_nc}", "质控失控", "仪器检定/校准过期"],
        "/quality/audits": [lab.audit_code, "已完成", "内部审核"],
        f"/quality/audits/{lab.audit_code}": ["一般不符合", "气相色谱原始记录", "17025:7.5"],
        f"/quality/ncs/{lab.westgard_nc}": ["质控失控", "1-3s"],
        "/quality/registers": ["EI-02", "检定/校准过期", "2025", "RM-CLB-2023-01", "已过期", "有证标准物质"],
        "/quality/qc": ["毒死蜱", "QC-GC01-021", "1-3s", "<svg"],
        "/limits": ["毒死蜱", "GB 2763"],
        "/tasks": ["T2026-LX-11"],
        "/tasks/T2026-LX-11": ["双随机抽样计划"],
        "/upstream": ["待发送", "投递失败"],
        "/pt": [lab.round_code, "已发布"],
    }
    for path, words in pages.items():
        r = web.get(path)
        assert r.status_code == 200, (path, r.text[-500:])
        assert '<html lang="zh-CN">' in r.text
        for word in words:
            assert word in r.text, (path, word)
        for code in MACHINE_CODES:
            assert code not in r.text, (path, code)
    registers = web.get("/quality/registers").text
    assert re.search(r'<tr class="over"><td><b>EI-02</b>', registers)  # the overdue calibration, highlighted
    assert re.search(r'<tr class="over"><td>RM-CLB-2023-01</td>', registers)  # the expired reference material


def test_the_pt_round_page_shows_scores_charts_and_reports_not_see_the_api(lab):
    web = lab.browser("wangfang")
    page = web.get(f"/pt/rounds/{lab.round_code}").text
    assert "见 API" not in page and "see the PT API" not in page
    assert page.count('<svg class="chart"') >= 4  # a bar chart of scores and a histogram per analyte
    assert "z = " in page and "满意" in page and "毒死蜱" in page
    assert "参加者公议值" in page  # how x_pt was set, in words
    assert "|z| ≥ 3 不满意" in page  # the outlier the demo round plants
    links = re.findall(r'href="(/api/v1/pt/rounds/[^"]+\.pdf)"', page)
    assert any(link.endswith("/summary.pdf") for link in links) and len(links) == 1 + 6
    pdf = web.get(links[0])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert web.get(f"/pt/rounds/{lab.round_code}/scores").status_code == 404  # no such page: the 404, not a 500
    assert web.get("/pt/rounds/NO-SUCH").status_code == 404


def test_a_pt_round_from_creation_to_scoring_through_the_provider_forms(lab):
    web = lab.browser("wangfang")
    deadline = (utcnow() + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    r = post(web, "/pt/rounds", {"scheme_code": "PROV-PEST", "code": "PT-WEB-1", "title": "菠菜中农药残留",
                                 "matrix": "菠菜匀浆", "deadline": deadline,
                                 "analytes": "chlorpyrifos, 毒死蜱, mg/kg, 0.01\nomethoate, 氧乐果"}, page="/pt")
    assert r.status_code == 303 and r.headers["location"] == "/pt/rounds/PT-WEB-1?done=created"
    page = "/pt/rounds/PT-WEB-1"
    labs = "\n".join(f"L{i}, 县检测站 {i}" for i in range(1, 6))
    assert post(web, f"{page}/participants", {"labs": labs}, page=page).status_code == 303
    assert post(web, f"{page}/step/open", {}, page=page).status_code == 303
    shown = web.get(page).text
    assert "接收结果中" in shown and "县检测站 3" in shown and f'href="{page}/submit"' in shown
    assert ".pdf" not in shown  # no reports before the round is scored
    codes = re.findall(r"<tr><td>(P\d+)</td>", shown)
    assert len(codes) == 5
    for i, code in enumerate(codes):  # the provider enters each lab's results on its behalf (pt:manage)
        r = post(web, f"{page}/submit", {"participant_code": code, "method": "GB 23200.113-2018",
                                         "result__chlorpyrifos": str(0.150 + 0.004 * i),
                                         "result__omethoate": str(0.040 + 0.002 * i)}, page=f"{page}/submit")
        assert r.status_code == 200 and "field-error" not in r.text, r.text[-400:]
    for step in ("close", "score", "publish"):
        r = post(web, f"{page}/step/{step}", {}, page=page)
        assert r.status_code == 303, (step, r.text[-400:])
    scored = web.get(page).text
    assert "已发布" in scored and scored.count('<svg class="chart"') >= 2
    report = re.search(rf'href="(/api/v1/pt/rounds/PT-WEB-1/reports/{codes[0]}\.pdf)"', scored)
    assert report and web.get(report.group(1)).content.startswith(b"%PDF")  # a participant's report
    bad = post(web, "/pt/rounds", {"scheme_code": "PROV-PEST", "code": "PT-WEB-2", "title": "x", "deadline": "soon",
                                   "analytes": "a, 甲"}, page="/pt")
    assert bad.status_code == 422 and "日期格式不正确" in bad.text and "field-error" in bad.text


def test_an_audit_finding_goes_through_nonconformity_and_capa_to_closure_by_the_forms(lab):
    web = lab.browser("wangfang")
    today = utcnow().date()
    r = post(web, "/quality/audits", {"code": "IA-WEB-01", "kind": "internal", "title": "样品管理专项审核",
                                      "start_date": str(today), "end_date": str(today + dt.timedelta(days=1)),
                                      "clauses": "17025:7.4, 17025:7.5", "lead_auditor": "wangfang"},
             page="/quality/audits")
    assert r.status_code == 303 and r.headers["location"].startswith("/quality/audits/IA-WEB-01")
    audit = "/quality/audits/IA-WEB-01"
    assert post(web, f"{audit}/start", {}, page=audit).status_code == 303
    r = post(web, f"{audit}/findings", {"clause_id": "17025:7.4", "grade": "minor", "owner": "liqiang",
                                        "description": "留样室温度记录缺 11 月 3 日"}, page=audit)
    assert r.status_code == 303
    nc_id = int(re.search(r'href="/quality/ncs/(\d+)"', web.get(audit).text).group(1))  # type: ignore[union-attr]
    nc = f"/quality/ncs/{nc_id}"
    early = post(web, f"{nc}/close", {"note": "x"}, page=nc)  # not verified yet: refused in Chinese, nothing written
    assert early.status_code == 409 and "记录的当前状态不允许此操作" in early.text
    steps = [("root-cause", {"root_cause": "温度记录表无人复核"}),
             ("action", {"description": "增设每日复核栏并培训", "owner": "liqiang",
                         "due_date": str(today + dt.timedelta(days=7))})]
    for step, data in steps:
        assert post(web, f"{nc}/{step}", data, page=nc).status_code == 303, step
    capa = web.get("/quality/ncs").text  # the action on the CAPA board, in progress
    assert re.search(r'aria-label="进行中">.*增设每日复核栏并培训.*aria-label="逾期"', capa, re.S)
    refused = post(web, f"{nc}/implemented", {}, page=nc)
    assert refused.status_code == 409 and "还有纠正措施未完成" in refused.text
    action_id = re.search(r'name="action_id" value="(\d+)"', web.get(nc).text).group(1)  # type: ignore[union-attr]
    for step, data in [("done", {"action_id": action_id, "note": "表格已修订，3 人已培训"}), ("implemented", {}),
                       ("verification", {"verification": "抽查两周记录均已复核", "effective": "yes"}),
                       ("close", {"note": "有效"})]:
        r = post(web, f"{nc}/{step}", data, page=nc)
        assert r.status_code == 303 and r.headers["location"] == f"{nc}?done={step}", (step, r.text[-400:])
    with lab.factory() as s:
        closed = ncs.get_nc(s, nc_id)
        assert closed.status == "closed" and closed.root_cause == "温度记录表无人复核"
        assert "抽查两周记录均已复核" in closed.verification
    board = web.get("/quality/ncs").text
    assert re.search(rf'已关闭.*NC-{nc_id}', board, re.S)
    assert post(web, f"{audit}/complete", {}, page=audit).status_code == 303
    assert "审核已完成" in web.get(f"{audit}?done=complete").text


def _limits_total(lab: Lab, text: str = "") -> int:
    with lab.factory() as s:
        return limit_views.search_limits(s, text=text, limit=1, offset=0).total


def test_a_bad_limits_csv_shows_its_validation_report_and_imports_nothing(lab):
    web = lab.browser("wangfang")
    before = _limits_total(lab)
    head = "commodity_zh,analyte_zh,residue_definition,limit_type,limit_value,unit,source_standard,source_clause\n"
    bad = head + ("菠菜,毒死蜱,毒死蜱,MRL,0.02,mg/kg,GB 2763-2021,4.x\n"
                  "菠菜,毒死蜱,毒死蜱,MRL,not-a-number,mg/kg,GB 2763-2021,4.x\n")
    r = post(web, "/limits/import", {}, page="/limits", files={"file": ("bad.csv", bad.encode(), "text/csv")})
    assert r.status_code == 422
    page = text_of(r.text)
    assert "校验未通过，未导入任何数据" in page and "校验报告" in page and "bad.csv" in page
    assert re.search(r"<tr class=\"over\"><td>3</td><td>limit_value</td>", r.text)  # the line and field named
    assert _limits_total(lab) == before  # all or nothing
    unreadable = post(web, "/limits/import", {"csv_text": "just,one\n"}, page="/limits")
    assert unreadable.status_code == 422 and "未导入任何数据" in unreadable.text


def test_a_good_limits_csv_is_imported_and_found_by_name(lab):
    web = lab.browser("wangfang")
    before = _limits_total(lab, "乙酰甲胺磷")
    good = ("commodity_zh,analyte_zh,residue_definition,limit_type,limit_value,unit,source_standard,source_clause\n"
            "菠菜,乙酰甲胺磷,乙酰甲胺磷,MRL,0.7,mg/kg,GB 2763-2021,4.1\n")
    r = post(web, "/limits/import", {"csv_text": good}, page="/limits")
    assert r.status_code == 303 and "inserted=" in r.headers["location"]
    assert "已导入" in web.get(r.headers["location"]).text
    assert _limits_total(lab, "乙酰甲胺磷") >= before
    found = web.get("/limits", params={"q": "乙酰甲胺磷"}).text
    assert "乙酰甲胺磷" in found and "0.7 mg/kg" in found


def test_dead_letters_are_requeued_with_an_audited_reason(lab):
    with session_scope(lab.factory, actor="test", reason="test: a message the hub refused") as s:
        msg = OutboxMessage(kind="result", idempotency_key="LAB:result:web-1", payload=json.dumps({}),
                            sample_code="S20261128-001")
        s.add(msg)
        s.flush()
        msg.status, msg.last_error, msg.attempts = "dead", "422 LOD must not exceed LOQ", 1
    web = lab.browser("wangfang")
    page = web.get("/upstream?state=dead").text
    assert "LOD must not exceed LOQ" in page and "投递失败（待人工处理）" in page and 'name="message_id"' in page
    short = post(web, "/upstream/requeue", {"message_id": str(msg.id), "reason": "x"}, page="/upstream")
    assert short.status_code == 422 and "请填写原因" in short.text
    r = post(web, "/upstream/requeue", {"message_id": str(msg.id), "reason": "汇交中心已修正 LOQ 规则"}, page="/upstream")
    assert r.status_code == 303 and r.headers["location"] == "/upstream?requeued=1"
    with lab.factory() as s:
        assert queue.status(s).dead_letter == 0 and queue.status(s).pending == 1


def test_api_keys_are_issued_once_and_revoked(lab):
    with session_scope(lab.factory, actor="admin", reason="test: a service account") as s:
        accounts.create_service_user(s, "ei-03", "酶抑制率检测仪 EI-03", ["technician"])
    web = lab.browser("admin")
    r = post(web, "/admin/keys", {"username": "ei-03", "label": "快检室 EI-03", "expires_days": "365"},
             page="/admin/keys")
    assert r.status_code == 200 and "只显示这一次" in r.text
    key = re.search(r'<code id="new-key">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    api = TestClient(lab.app)
    assert api.get("/api/v1/instruments", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = web.get("/admin/keys").text
    assert key not in listed and "快检室 EI-03" in listed
    token_id = re.search(r'action="/admin/keys/(\d+)/revoke"', listed).group(1)  # type: ignore[union-attr]
    assert post(web, f"/admin/keys/{token_id}/revoke", {}, page="/admin/keys").status_code == 303
    assert api.get("/api/v1/instruments", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    person = post(web, "/admin/keys", {"username": "zhangwei"}, page="/admin/keys")
    assert person.status_code == 422 and "未写入任何数据" in person.text


def test_a_technician_reads_but_gets_the_403_page_for_what_the_role_lacks(lab):
    tech = lab.browser("zhangwei")
    assert tech.get("/quality/ncs").status_code == 200  # every lab role reads the quality records
    nc = f"/quality/ncs/{lab.westgard_nc}"
    shown = tech.get(nc).text
    assert "记录根本原因" not in shown  # the QA manager's forms are not offered
    refused = post(tech, f"{nc}/root-cause", {"root_cause": "x"}, page=nc)
    assert refused.status_code == 403 and "无权访问此页面" in refused.text and "quality:manage" in refused.text
    limits = tech.get("/limits").text
    assert "导入限量 CSV" not in limits
    assert post(tech, "/limits/import", {"csv_text": "a"}, page="/limits").status_code == 403
    assert post(tech, "/upstream/requeue", {"reason": "xxxxxx", "all_dead": "1"}, page="/upstream").status_code == 403
    assert tech.get("/admin/keys").status_code == 403
    with lab.factory() as s:
        assert ncs.get_nc(s, lab.westgard_nc).root_cause in (None, "")  # nothing written


def test_pages_are_chinese_by_default_and_english_after_the_switch(lab):
    web = lab.browser("wangfang")
    zh = web.get("/quality").text
    assert '<html lang="zh-CN">' in zh and "质量管理" in zh and "Quality management" not in zh
    r = web.post("/account/language", data={"csrf_token": csrf_of(zh), "language": "en", "back": "/quality"},
                 follow_redirects=False)
    assert r.status_code == 303
    for path, words in {"/quality": ["Quality management", "Nonconformities and CAPA"],
                        "/quality/ncs": ["closed", "failed QC run"],
                        "/quality/registers": ["calibration overdue", "certified reference material"],
                        f"/pt/rounds/{lab.round_code}": ["Scores", "Charts"],
                        "/limits": ["Search"]}.items():
        page = web.get(path).text
        assert '<html lang="en">' in page, path
        for word in words:
            assert word in page, (path, word)
        assert "质量管理" not in text_of(page), path  # the page's own words are English


def test_a_pt_participant_sees_the_published_round_anonymised_with_only_its_own_report(lab):
    from lims.pt import provider, submissions

    with session_scope(lab.factory, actor="admin", reason="test: a participant's account") as s:
        accounts.create_user(s, "lab003", "县检测站 03 能力验证联系人", "pt-participant-pass-2026", ["pt_participant"])
        mine = next(p.code for p in provider.participants(s, provider.get_round(s, lab.round_code)))
        submissions.bind_account(s, lab.round_code, mine, "lab003")
    client = TestClient(lab.app)
    r = client.post("/login", data={"username": "lab003", "password": "pt-participant-pass-2026",
                                    "csrf_token": csrf_of(client.get("/login").text)}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/pt/rounds/{lab.round_code}")
    assert page.status_code == 200 and "<svg" in page.text
    assert "LAB00" not in page.text and "县级农产品质量安全检测站" not in page.text  # labs stay anonymous
    reports = re.findall(r'/reports/([^"/]+)\.pdf"', page.text)
    assert reports == ["summary", mine]  # the summary and its own report, nobody else's
    assert f'<tr class="soon"><td>{mine}' in page.text  # its own rows marked
    assert "开始接收结果" not in page.text and 'action="/pt/rounds"' not in client.get("/pt").text
    refused = post(client, f"/pt/rounds/{lab.round_code}/step/open", {}, page="/pt")
    assert refused.status_code == 403 and "pt:manage" in refused.text


def test_a_qc_run_recorded_by_a_technician_is_judged_by_the_westgard_rules(lab):
    tech = lab.browser("zhangwei")
    chart = {"material": "菠菜基质质控品 QC-SP", "analyte": "毒死蜱", "instrument": "GC-01", "method": "GC-OP"}
    ok = post(tech, "/quality/qc/runs", {**chart, "code": "QC-WEB-001", "level__L1": "0.0503", "level__L2": "0.502"},
              page="/quality/qc")
    assert ok.status_code == 200 and "在控，接受" in ok.text
    bad = post(tech, "/quality/qc/runs", {**chart, "code": "QC-WEB-002", "level__L1": "0.080", "level__L2": "0.502"},
               page="/quality/qc")
    assert bad.status_code == 200 and "失控，拒绝" in bad.text and "1-3s" in bad.text
    nc_id = int(re.search(r'href="/quality/ncs/(\d+)">NC-', bad.text).group(1))  # type: ignore[union-attr]
    with lab.factory() as s:
        assert ncs.get_nc(s, nc_id).source == "qc"
    assert "QC-WEB-002" in tech.get("/quality/qc").text  # on the chart's table of rejected runs
    junk = post(tech, "/quality/qc/runs", {**chart, "code": "QC-WEB-003", "level__L1": "abc"}, page="/quality/qc")
    assert junk.status_code == 422 and "质控数据无效" in junk.text


def test_a_monitoring_task_is_created_and_its_plan_drawn_through_the_forms(lab):
    web = lab.browser("wangfang")
    r = post(web, "/tasks", {"code": "T-WEB-1", "name": "冬季蔬菜专项监测", "programme_type": "special",
                             "issuing_authority": "县农业农村局", "required_analytes": "CHLORPYRIFOS、ACEPHATE"},
             page="/tasks")
    assert r.status_code == 303 and r.headers["location"] == "/tasks/T-WEB-1"
    page = web.get("/tasks/T-WEB-1").text
    assert "专项监测" in page and "尚未抽取抽样计划" in page
    r = post(web, "/tasks/T-WEB-1/plan", {"producers": "2", "inspectors_per_visit": "2",
                                          "sampling_link": "before_harvest"}, page="/tasks/T-WEB-1")
    assert r.status_code == 303, r.text[-400:]
    drawn = web.get("/tasks/T-WEB-1").text
    assert drawn.count("待抽样") == 2 and "采收前" in drawn and "抽取双随机抽样计划" not in drawn
    bad = post(web, "/tasks", {"code": "T-WEB-2", "name": "x", "programme_type": "weekly",
                               "issuing_authority": "局"}, page="/tasks")
    assert bad.status_code == 422 and "未写入任何数据" in bad.text
    tech = lab.browser("zhangwei")
    assert 'action="/tasks"' not in tech.get("/tasks").text
    assert post(tech, "/tasks/T-WEB-1/plan", {"producers": "1"}, page="/tasks").status_code == 403
