"""The technician's bench in the web UI, through its HTML forms with the session cookie and CSRF token a
browser sends, on the demo reference data: a batch made from the queue of open analyses, QC samples, the
worklist, rapid-test readings typed at the bench (enzyme inhibition, colloidal gold), a manual result with and
without its reason, the authorship (检验) signature — after which the reviewer's queue can sign the results —
refusals shown in the user's language with the field outlined and nothing written, permissions, English."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from lims.db.models import Analysis, Batch, InstrumentWorklist, QcSample, Result, Sample, Signature
from lims.demo import PASSWORDS, register_samples, seed_reference

pytestmark = pytest.mark.db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DAY = ["S20261128-001", "S20261128-002", "S20261128-003", "S20261128-004", "S20261128-005", "S20261128-006"]


class Lab:
    def __init__(self, app: FastAPI, factory: sessionmaker[Session]) -> None:
        self.app, self.factory = app, factory

    def browser(self, username: str) -> TestClient:
        client = TestClient(self.app)
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
        return client

    def analyses(self, codes: list[str]) -> dict[str, int]:
        """Sample code → the id of its screening analysis."""
        with self.factory() as s:
            return dict(s.execute(select(Sample.code, Analysis.id).join(Analysis).where(
                Sample.code.in_(codes), Analysis.kind == "screening")).all())

    def count(self, model: type) -> int:
        with self.factory() as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())

    def results(self, analysis_ids: list[int]) -> list[Result]:
        with self.factory() as s:
            out = list(s.execute(select(Result).where(Result.analysis_id.in_(analysis_ids)).order_by(Result.id))
                       .scalars())
            s.expunge_all()
            return out


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def post(client: TestClient, page: str, path: str, data: dict[str, object] | list[tuple[str, str]]):
    """POST a form as a browser does (repeated names in document order) with the page's CSRF token."""
    body: dict[str, list[str]] = {"csrf_token": [csrf_of(client.get(page).text)]}
    for name, value in (data if isinstance(data, list) else data.items()):
        body.setdefault(name, []).append(str(value))
    return client.post(path, data=body, follow_redirects=False)


@pytest.fixture
def lab(db_engine, db_factory) -> Lab:
    seed_reference(db_factory)
    register_samples(db_factory)
    return Lab(create_app(db_engine), db_factory)


def make_batch(lab: Lab, tech: TestClient, code: str, samples: list[str], **extra: str):
    ids = lab.analyses(samples)
    form = [("code", code), ("method_code", extra.get("method_code", "")),
            ("instrument_code", extra.get("instrument_code", "EI-01"))] + [("analysis_id", str(ids[x])) for x in samples]
    return post(tech, "/batches/new", "/batches/new", form), ids


# ------------------------------------------------------------------------------------------ batches


def test_new_batch_from_the_queue_filtered_and_created(lab: Lab):
    tech = lab.browser("zhangwei")
    page = tech.get("/batches/new?commodity=JIUCAI")
    assert page.status_code == 200 and "新建批次" in page.text
    assert "S20261128-001" in page.text and "S20261128-002" not in page.text  # filtered by commodity
    assert re.search(r'value="B\d{8}-01"', page.text)  # a code is suggested
    assert 'for="code"' in page.text and 'id="code"' in page.text
    r, ids = make_batch(lab, tech, "B-UI-1", DAY[:3])
    assert r.status_code == 303 and r.headers["location"] == "/batches/B-UI-1/entry?done=created&n=3"
    with lab.factory() as s:
        batch = s.execute(select(Batch).where(Batch.code == "B-UI-1")).scalar_one()
        assert sorted(s.execute(select(Analysis.id).where(Analysis.batch_id == batch.id)).scalars()) == sorted(
            ids.values())
        assert batch.instrument_id is not None and batch.method_id is not None  # method from the analyses
    entry = tech.get(r.headers["location"])
    assert "批次已创建，含 3 个检测项目" in entry.text
    queue = tech.get("/batches/new").text
    assert "S20261128-001" not in queue and "S20261128-004" in queue  # batched analyses left the queue


def test_new_batch_refusals_name_the_field_and_create_nothing(lab: Lab):
    tech = lab.browser("zhangwei")
    r = post(tech, "/batches/new", "/batches/new", {"code": "B-EMPTY"})
    assert r.status_code == 422 and "请至少勾选一个检测项目" in r.text
    r = post(tech, "/batches/new", "/batches/new", [("code", ""), ("analysis_id", "1")])
    assert r.status_code == 422 and "请填写批次编号" in r.text
    assert re.search(r'id="code"[^>]*class="field-error"', r.text)
    assert make_batch(lab, tech, "B-ONE", DAY[:1])[0].status_code == 303
    r, _ = make_batch(lab, tech, "B-ONE", DAY[1:2])
    assert r.status_code == 409 and "该批次编号已存在" in r.text and "未写入任何数据" in r.text
    r, _ = make_batch(lab, tech, "B-TWO", DAY[1:2], method_code="GC-OP")
    assert r.status_code == 422 and "方法与批次方法不一致" in r.text
    assert lab.count(Batch) == 1


def test_batch_list_searches_filters_and_sorts(lab: Lab):
    tech = lab.browser("zhangwei")
    make_batch(lab, tech, "B-ALPHA", DAY[:1])
    make_batch(lab, tech, "B-BETA", DAY[1:2])
    page = tech.get("/batches").text
    assert page.index("B-BETA") < page.index("B-ALPHA")  # newest first
    page = tech.get("/batches?sort=code&order=asc").text
    assert page.index("B-ALPHA") < page.index("B-BETA") and 'id="sort-code"' in page
    page = tech.get("/batches?q=alp").text
    assert "B-ALPHA" in page and "B-BETA" not in page
    assert "B-ALPHA" not in tech.get("/batches?status=qc_passed").text
    assert "B-ALPHA" not in tech.get("/batches?method=GC-OP").text
    assert "B-ALPHA" not in tech.get("/batches?date_from=2000-01-01&date_to=2000-01-02").text
    assert "B-ALPHA" in tech.get("/batches?date_from=2000-01-01").text
    bad = tech.get("/batches?date_from=yesterday")
    assert bad.status_code == 200 and "日期格式不正确" in bad.text and 'class="field-error"' in bad.text


# ------------------------------------------------------------------------------------------ QC and worklist


def test_qc_samples_are_judged_and_the_batch_evaluated(lab: Lab):
    tech = lab.browser("zhangwei")
    make_batch(lab, tech, "B-QC", DAY[:2])
    page = "/batches/B-QC/entry"
    assert post(tech, page, "/batches/B-QC/qc", {"kind": "reagent_blank", "measured_value": "0.001",
                                                 "reporting_limit": "0.01"}).status_code == 303
    assert '<option value="OP-CARB">有机磷和氨基甲酸酯类农药</option>' in tech.get(page).text
    assert post(tech, page, "/batches/B-QC/qc", {"kind": "spike", "nominal_value": "0.10", "analyte_code": "OP-CARB",
                                                 "measured_value": "0.092"}).status_code == 303
    assert post(tech, page, "/batches/B-QC/qc", {"kind": "duplicate", "measured_value": "0.050",
                                                 "second_value": "0.052"}).status_code == 303
    assert post(tech, page, "/batches/B-QC/qc", {"kind": "ccv", "nominal_value": "0.10",
                                                 "measured_value": "0.105"}).status_code == 303
    r = post(tech, page, "/batches/B-QC/qc", {"kind": "duplicate", "measured_value": "0.050"})
    assert r.status_code == 422 and "平行样须填第二个测定值" in r.text
    assert re.search(r'id="second_value"[^>]*class="field-error"', r.text)
    r = post(tech, page, "/batches/B-QC/qc", {"kind": "spike", "nominal_value": "abc", "measured_value": "1"})
    assert r.status_code == 422 and "请输入有效的数值" in r.text and 'value="abc"' in r.text
    assert lab.count(QcSample) == 4
    shown = tech.get(page).text
    assert "加标回收" in shown and "平行样" in shown and "通过" in shown
    assert post(tech, page, "/batches/B-QC/evaluate", {}).status_code == 303
    assert "质控通过" in tech.get("/batches?q=B-QC").text


def test_worklist_shows_positions_and_downloads_as_csv(lab: Lab):
    tech = lab.browser("zhangwei")
    make_batch(lab, tech, "B-WL", DAY[:3])
    page = tech.get("/batches/B-WL/entry").text
    assert "工作表" in page and "对照" in page
    r = tech.get("/batches/B-WL/worklist.csv?run=7")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["run_no"], x["channel"], x["sample_code"]) for x in rows] == [
        ("7", "1", DAY[0]), ("7", "2", DAY[1]), ("7", "3", DAY[2])]
    assert tech.get("/batches/NOPE/worklist.csv").status_code == 404
    missing = tech.get("/batches/NOPE/entry")
    assert missing.status_code == 404 and "未找到：批次 NOPE" in missing.text
    # sent to the instrument: stored for the acquisition process (lims.acquisition.orders), shown with its state
    r = post(tech, "/batches/B-WL/entry", "/batches/B-WL/worklist/send", {"instrument_code": "EI-01"})
    assert '<option value="LC-01"' in page and '<option value="EI-01"' not in page.split('id="send-instrument"')[1]
    assert r.status_code == 409 and "未写入任何数据" in r.text  # the enzyme tester sends sample IDs itself
    assert re.search(r'id="send-instrument"[^>]*class="field-error"', r.text) and lab.count(InstrumentWorklist) == 0
    r = post(tech, "/batches/B-WL/entry", "/batches/B-WL/worklist/send", {"instrument_code": "LC-01"})  # ASTM
    assert r.status_code == 303 and "done=sent" in r.headers["location"] and "n=3" in r.headers["location"]
    assert lab.count(InstrumentWorklist) == 1
    shown = tech.get(r.headers["location"]).text
    assert "工作表（3 个位置）已排队" in shown and "待发送" in shown


# ------------------------------------------------------------------------------------------ result entry


def _enzyme_form(ids: dict[str, int], readings: dict[str, tuple[str, str]], control=("0.100", "0.700")):
    form = [("control_a0", control[0]), ("control_a3", control[1])]
    for code, aid in ids.items():
        a0, a3 = readings.get(code, ("", ""))
        form += [("analysis_id", str(aid)), ("a0", a0), ("a3", a3)]
    return form


def test_enzyme_inhibition_typed_at_the_bench(lab: Lab):
    tech = lab.browser("zhangwei")
    _, ids = make_batch(lab, tech, "B-EI", DAY[:3])
    page = "/batches/B-EI/entry"
    # control ΔA 0.25 < 0.3: the run is invalid, nothing is recorded
    r = post(tech, page, "/batches/B-EI/entry/enzyme", _enzyme_form(ids, {DAY[0]: ("0.1", "0.5")}, ("0.1", "0.35")))
    assert r.status_code == 422 and "本次测定无效" in r.text and "未写入任何数据" in r.text
    assert re.search(r'id="control_a3"[^>]*class="field-error"', r.text)
    r = post(tech, page, "/batches/B-EI/entry/enzyme", _enzyme_form(ids, {DAY[0]: ("0.1", "x")}))
    assert r.status_code == 422 and re.search(rf'id="a3_{ids[DAY[0]]}"[^>]*class="field-error"', r.text)
    assert lab.count(Result) == 0
    # control ΔA 0.6; sample ΔA 0.54 → 10 % negative, 0.18 → 70 % positive; the third row left empty
    r = post(tech, page, "/batches/B-EI/entry/enzyme",
             _enzyme_form(ids, {DAY[0]: ("0.10", "0.64"), DAY[1]: ("0.12", "0.30")}))
    assert r.status_code == 303, r.text
    assert "n=2" in r.headers["location"] and "pos=1" in r.headers["location"]
    first, second = lab.results([ids[DAY[0]], ids[DAY[1]]])
    assert first.qualitative == "negative" and first.inhibition_percent == pytest.approx(10.0)
    assert second.qualitative == "positive" and second.inhibition_percent == pytest.approx(70.0)
    assert first.source == "manual" and "快检读数人工录入" in first.manual_reason and first.status == "to_be_reviewed"
    shown = tech.get(r.headers["location"]).text
    assert "已录入 2 条快检结果" in shown and "已自动申请确证检测" in shown
    with lab.factory() as s:  # the positive screen requested its confirmation
        assert s.execute(select(func.count()).select_from(Analysis).where(
            Analysis.requested_by_analysis_id == ids[DAY[1]])).scalar_one() >= 1
    # the worklist (as sent to the instrument) keeps only the analysis still open
    left = list(csv.DictReader(io.StringIO(tech.get("/batches/B-EI/worklist.csv").text)))
    assert [(x["channel"], x["sample_code"]) for x in left] == [("1", DAY[2])]
    # an analysis with a result takes no second one
    r = post(tech, page, "/batches/B-EI/entry/enzyme", _enzyme_form(ids, {DAY[0]: ("0.10", "0.64")}))
    assert r.status_code == 409 and lab.count(Result) == 2


def test_colloidal_gold_strips_by_reader_and_by_eye(lab: Lab):
    tech = lab.browser("zhangwei")
    _, ids = make_batch(lab, tech, "B-AU", DAY[:3])
    page = "/batches/B-AU/entry"

    def strips(cutoff: str, rows: dict[str, tuple[str, str, str]]):
        form = [("cutoff", cutoff)]
        for code, aid in ids.items():
            t, c, eye = rows.get(code, ("", "", ""))
            form += [("analysis_id", str(aid)), ("t", t), ("c", c), ("visual", eye)]
        return post(tech, page, "/batches/B-AU/entry/strip", form)

    r = strips("", {DAY[0]: ("800", "1000", "")})
    assert r.status_code == 422 and "T/C 判定值" in r.text and lab.count(Result) == 0
    r = strips("0.9", {DAY[0]: ("800", "", "")})
    assert r.status_code == 422 and re.search(rf'id="c_{ids[DAY[0]]}"[^>]*class="field-error"', r.text)
    r = strips("0.9", {DAY[0]: ("800", "1000", ""), DAY[1]: ("950", "1000", ""), DAY[2]: ("", "", "negative")})
    assert r.status_code == 303, r.text
    a, b, c = lab.results([ids[x] for x in DAY[:3]])
    assert (a.qualitative, a.value) == ("positive", pytest.approx(0.8)) and a.unit == "T/C"
    assert b.qualitative == "negative" and c.qualitative == "negative" and c.details["read_by_eye"] is True
    assert c.decision_rule == "胶体金竞争法目视判读" and a.decision_rule == "胶体金竞争法 T/C < 0.9 为阳性"


def test_manual_result_needs_its_reason(lab: Lab):
    tech = lab.browser("zhangwei")
    _, ids = make_batch(lab, tech, "B-MAN", DAY[:1])
    page = "/batches/B-MAN/entry"
    aid = str(ids[DAY[0]])
    r = post(tech, page, "/batches/B-MAN/entry/manual", {"analysis_id": aid, "value": "12.5", "unit": "%",
                                                        "reason": "坏"})
    assert r.status_code == 422 and "手工录入须填写理由" in r.text and "未写入任何数据" in r.text
    assert re.search(r'id="reason"[^>]*class="field-error"', r.text) and 'value="12.5"' in r.text
    assert lab.count(Result) == 0
    r = post(tech, page, "/batches/B-MAN/entry/manual", {"analysis_id": aid, "value": "12.5", "unit": "%",
                                                        "reason": "读数仪通讯故障，按显示值人工录入"})
    assert r.status_code == 303
    [res] = lab.results([ids[DAY[0]]])
    assert (res.value, res.value_text, res.unit, res.source) == (12.5, "12.5", "%", "manual")
    assert res.manual_reason == "读数仪通讯故障，按显示值人工录入"


# ------------------------------------------------------------------------------------------ authorship


def _entered(lab: Lab, tech: TestClient) -> list[int]:
    _, ids = make_batch(lab, tech, "B-SIGN", DAY[:2])
    r = post(tech, "/batches/B-SIGN/entry", "/batches/B-SIGN/entry/enzyme",
             _enzyme_form(ids, {DAY[0]: ("0.10", "0.64"), DAY[1]: ("0.10", "0.60")}))
    assert r.status_code == 303
    return [x.id for x in lab.results(list(ids.values()))]


def _authorship(lab: Lab) -> list[int]:
    with lab.factory() as s:
        return sorted(s.execute(select(Signature.record_id).where(Signature.meaning == "authorship")).scalars())


def test_authorship_signature_then_the_reviewer_can_review(lab: Lab):
    tech = lab.browser("zhangwei")
    rids = _entered(lab, tech)
    reviewer = lab.browser("liqiang")
    r = post(reviewer, "/review", "/review/sign/review", [("result_id", str(i)) for i in rids] + [
        ("password", PASSWORDS["liqiang"])])
    assert r.status_code == 409 and "检验人尚未签名" in r.text  # the day stopped here before issue 16
    page = tech.get("/author?batch=B-SIGN")
    assert page.status_code == 200 and all(f'id="r{i}"' in page.text for i in rids)
    assert 'for="password"' in page.text
    form = [("result_id", str(i)) for i in rids] + [("batch", "B-SIGN")]
    r = post(tech, "/author", "/author", [*form, ("password", "wrong-password")])
    assert r.status_code == 403 and "密码错误，未签名" in r.text and "未写入任何数据，未签名" in r.text
    assert re.search(r'id="password"[^>]*class="field-error"', r.text)
    assert _authorship(lab) == []
    r = post(tech, "/author", "/author", form)
    assert r.status_code == 422 and "电子签名须重新输入您的登录密码" in r.text
    r = post(tech, "/author", "/author", [("batch", "B-SIGN"), ("password", PASSWORDS["zhangwei"])])
    assert r.status_code == 422 and "请至少勾选一条结果" in r.text and _authorship(lab) == []
    r = post(tech, "/author", "/author", [*form, ("password", PASSWORDS["zhangwei"])])
    assert r.status_code == 303 and r.headers["location"] == "/author?n=2&batch=B-SIGN"
    assert "已签名（检验）2 条结果" in tech.get(r.headers["location"]).text
    assert _authorship(lab) == rids
    assert "没有待您签名的结果" in tech.get("/author").text
    with lab.factory() as s:
        assert s.execute(select(Signature.printed_name).where(Signature.meaning == "authorship")).scalars().all() == [
            "张伟", "张伟"]
    # the reviewer's queue now signs them (screening results of a batch without QC are not held)
    queue = reviewer.get("/review").text
    assert all(f'value="{i}"' in queue for i in rids) and "Tested by" in queue
    r = post(reviewer, "/review", "/review/sign/review", [("result_id", str(i)) for i in rids] + [
        ("password", PASSWORDS["liqiang"])])
    assert r.status_code == 303, r.text
    with lab.factory() as s:
        assert set(s.execute(select(Result.status).where(Result.id.in_(rids))).scalars()) == {"reviewed"}


# ------------------------------------------------------------------------------------------ access, language


def test_bench_pages_need_the_result_entry_permission(lab: Lab):
    make_batch(lab, lab.browser("zhangwei"), "B-PERM", DAY[:1])
    reviewer = lab.browser("liqiang")
    for path in ("/batches/new", "/batches/B-PERM/entry", "/author"):
        r = reviewer.get(path)
        assert r.status_code == 403 and "无权访问此页面" in r.text, path
    token = csrf_of(reviewer.get("/batches").text)
    r = reviewer.post("/batches/B-PERM/entry/manual", data={"csrf_token": token, "analysis_id": "1", "value": "1",
                                                            "unit": "%", "reason": "reviewer tries to enter"})
    assert r.status_code == 403 and lab.count(Result) == 0
    listing = reviewer.get("/batches").text  # the list is readable; its entry links are not offered
    assert "B-PERM" in listing and "/batches/B-PERM/entry" not in listing and 'href="/author"' not in listing
    anonymous = TestClient(lab.app).get("/batches/new", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and "/login" in anonymous.headers["location"]
    tech = lab.browser("zhangwei")
    assert post(tech, "/batches/new", "/batches/B-PERM/entry/manual", {"analysis_id": "1"}).status_code != 403
    assert "/author" in tech.get("/batches").text  # the technician's nav offers the authorship page


def test_pages_are_chinese_by_default_and_english_after_the_switch(lab: Lab):
    tech = lab.browser("zhangwei")
    make_batch(lab, tech, "B-LANG", DAY[:2])
    paths = ("/batches", "/batches/new", "/batches/B-LANG/entry", "/author")
    for path in paths:
        page = tech.get(path).text
        assert '<html lang="zh-CN">' in page and "批次" in page, path
    assert post(tech, "/batches", "/account/language", {"language": "en", "back": "/batches"}).status_code == 303
    english = {path: tech.get(path).text for path in paths}
    assert all('<html lang="en">' in page for page in english.values())
    assert "New batch" in english["/batches/new"] and "新建批次" not in english["/batches/new"]
    entry = english["/batches/B-LANG/entry"]  # the method's own name stays as registered
    assert "Enzyme inhibition (GB/T 5009.199-2003)" in entry and "412 nm 吸光度" not in entry and "手工录入" not in entry
    assert "Authorship signature" in english["/author"]
    r = post(tech, "/batches/B-LANG/entry", "/batches/B-LANG/entry/manual",
             {"analysis_id": str(lab.analyses(DAY[:1])[DAY[0]]), "value": "1", "unit": "%", "reason": "no"})
    assert r.status_code == 422 and "Nothing was written or signed." in r.text and "(at least 5 characters)" in r.text


def test_a_positive_screen_is_confirmed_by_quantitation_in_a_gc_batch(lab: Lab):
    tech = lab.browser("zhangwei")
    _, ids = make_batch(lab, tech, "B-SCREEN", DAY[2:3])
    post(tech, "/batches/B-SCREEN/entry", "/batches/B-SCREEN/entry/enzyme",
         _enzyme_form(ids, {DAY[2]: ("0.10", "0.30")}))  # 67 % inhibition: positive
    with lab.factory() as s:
        [confirm] = s.execute(select(Analysis.id).where(Analysis.requested_by_analysis_id == ids[DAY[2]])).scalars()
    assert f'value="{confirm}"' in tech.get("/batches/new?method=GC-OP").text  # in the queue of GC-OP
    r = post(tech, "/batches/new", "/batches/new", [("code", "B-GC"), ("analysis_id", str(confirm))])
    assert r.status_code == 303
    page = "/batches/B-GC/entry"
    assert 'id="curve-form"' in tech.get(page).text and 'id="enzyme-form"' not in tech.get(page).text
    r = post(tech, page, "/batches/B-GC/curves", {"concentrations": "0.01, 0.05, 0.1, 0.5", "responses": "10 52"})
    assert r.status_code == 422 and "个数须相同" in r.text
    assert re.search(r'id="responses"[^>]*class="field-error"', r.text)
    r = post(tech, page, "/batches/B-GC/curves", {"analyte_code": "OP-CARB", "concentrations": "0.01, 0.05, 0.1, 0.5, 1.0",
                                                  "responses": "10.2，50.9 101.5; 498 1003"})
    assert r.status_code == 303 and "done=curve" in r.headers["location"]
    with lab.factory() as s:
        from lims.db.models import CalibrationCurve
        curve = s.execute(select(CalibrationCurve)).scalar_one()
        assert curve.passed and [p[0] for p in curve.points] == [0.01, 0.05, 0.1, 0.5, 1.0]
    form = {"analysis_id": str(confirm), "curve_id": str(curve.id), "response": "201", "sample_mass_g": "0",
            "extract_volume_ml": "10"}
    r = post(tech, page, "/batches/B-GC/quantify", form)
    assert r.status_code == 422 and re.search(r'id="sample_mass_g"[^>]*class="field-error"', r.text)
    r = post(tech, page, "/batches/B-GC/quantify", {**form, "sample_mass_g": "10"})
    assert r.status_code == 303 and "done=quantified" in r.headers["location"]
    [result] = lab.results([confirm])
    assert result.source == "calculated" and result.unit == "mg/kg" and result.curve_id == curve.id
    assert result.value == pytest.approx(0.2, rel=0.05)  # 201 → 0.2 mg/L × 10 mL / 10 g
    # the batch QC closes the held state, the tester signs, the reviewer can review
    post(tech, page, "/batches/B-GC/qc", {"kind": "spike", "nominal_value": "0.1", "measured_value": "0.095"})
    post(tech, page, "/batches/B-GC/evaluate", {})
    r = post(tech, "/author", "/author", [("result_id", str(result.id)), ("password", PASSWORDS["zhangwei"])])
    assert r.status_code == 303
    reviewer = lab.browser("liqiang")
    r = post(reviewer, "/review", "/review/sign/review", [("result_id", str(result.id)),
                                                          ("password", PASSWORDS["liqiang"])])
    assert r.status_code == 303, r.text
