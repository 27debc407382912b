"""Sample reception in the web UI (issue 16, technician): register from a sampling record (prefilled from a
scanned 合格证 / 追溯码 text), receive, sub-sample, retain, dispose; the printable label whose Code 128 and QR
carry the sample code; the sample list's search, filters and order; refusals in zh-CN beside their field;
the 403 page without samples:write; English after the user switches."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
import segno
from barcode.charsets import code128 as charsets
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.ui.reception import RegistrationForm, registration_problems
from lims import demo
from lims.db.engine import session_scope
from lims.db.models import Analysis, CustodyEvent, Producer, Role, Sample, User, UserRole
from lims.demo import reference as demo_reference
from lims.scan import parse_scan
from lims.security import hash_password
from lims.services.sampling import LAB_TZ
from lims.symbols import bar_runs, code128_svg, qr_svg
from tests.api.ui_session import CSRF, signed_in

pytestmark = pytest.mark.db
_HASHES: dict[str, str] = {}


def _hash_once(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def app(db_engine, db_factory, monkeypatch):
    monkeypatch.setattr(demo_reference, "hash_password", _hash_once)
    demo.seed_reference(db_factory)
    return create_app(db_engine)




def _csrf(c: TestClient, path: str = "/samples") -> str:
    return CSRF.search(c.get(path).text).group(1)


def _now_local() -> str:
    return f"{dt.datetime.now(LAB_TZ) - dt.timedelta(hours=2):%Y-%m-%dT%H:%M}"


def _form(c: TestClient, **changes: str | list[str]) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": _csrf(c, "/samples/new"), "code": "S-RCP-001", "task_code": "T2026-LX-11",
        "commodity_code": "JIUCAI", "producer_id": "", "certificate_no": "HGZ-511521-0099",
        "trace_code": "51152120261206000123", "region_code": "511521", "sampling_place": "某县城关镇蔬菜基地",
        "sampling_link": "before_harvest", "sampled_at": _now_local(), "sampler1": "赵磊", "sampler2": "孙敏",
        "quantity": "1 kg", "description": "韭菜，新鲜", "requested": ["OP-CARB|RAPID-EI"]}
    data.update(changes)
    return data


def _producer_id(factory, name: str) -> int:
    with factory() as s:
        return s.execute(select(Producer.id).where(Producer.name == name)).scalar_one()


# ------------------------------------------------------------------------------------ pure parts


def test_scan_texts_of_certificates_and_trace_labels_are_read():
    assert parse_scan("51152120261206000123") == {"trace_code": "51152120261206000123"}
    assert parse_scan("HGZ-511521-0099") == {"certificate_no": "HGZ-511521-0099"}
    text = "合格证编号：HGZ-1\n食用农产品名称：韭菜\n数量（重量）：5 kg\n种植养殖生产者：某县绿源蔬菜专业合作社\n追溯码: 123456789"
    assert parse_scan(text) == {"certificate_no": "HGZ-1", "commodity": "韭菜", "quantity": "5 kg",
                                "producer": "某县绿源蔬菜专业合作社", "trace_code": "123456789"}
    assert parse_scan("https://zs.example.gov.cn/q?traceCode=1101050001&hgzbh=HGZ-9") == {
        "trace_code": "1101050001", "certificate_no": "HGZ-9"}
    assert parse_scan("https://zs.example.gov.cn/trace/110105000100") == {"trace_code": "110105000100"}
    assert parse_scan('{"cpmc": "芹菜", "zsm": "42"}') == {"commodity": "芹菜", "trace_code": "42"}
    assert parse_scan("  ") == {} and parse_scan("两个 词") == {}
    # pasted into a one-line field, the line breaks are gone: cut before each known key
    assert parse_scan("合格证编号：HGZ-7品名：芹菜数量（重量）：2 kg") == {
        "certificate_no": "HGZ-7", "commodity": "芹菜", "quantity": "2 kg"}


def _decode_code128(svg: str) -> str:
    """Read the bars back: module widths → symbol values (ISO/IEC 15417 patterns) → text, check character
    verified. Independent of how the symbol was drawn, only of the standard's pattern table."""
    view = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    modules = ["0"] * view
    for x, w in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)"', svg):
        modules[int(x):int(x) + int(w)] = ["1"] * int(w)
    bits = "".join(modules).strip("0")
    assert bits.endswith(charsets.STOP + "11")
    values = [charsets.CODES.index(bits[i:i + 11]) for i in range(0, len(bits) - 13, 11)]
    assert sum([values[0], *(i * v for i, v in enumerate(values[1:-1], start=1))]) % 103 == values[-1]
    sets = {charsets.START_CODES[k]: k for k in "ABC"}
    tables = {"A": {v: k for k, v in charsets.A.items()}, "B": {v: k for k, v in charsets.B.items()}}
    switch = {charsets.B["TO_C"]: "C", charsets.C["TO_B"]: "B", charsets.B.get("TO_A", -1): "A"}
    current, out = sets[values[0]], []
    for v in values[1:-1]:
        if current == "C" and v < 100:
            out.append(f"{v:02d}")
        elif v in switch and (current != "C" or v in (charsets.C["TO_B"], charsets.C.get("TO_A", -1))):
            current = switch[v] if v != charsets.C.get("TO_A", -2) else "A"
        else:
            out.append(tables[current][v])
    return "".join(out)


def _qr_matrix(svg: str) -> list[list[int]]:
    """The dark modules of segno's path (``M x y`` then ``h``/``m`` moves) as a matrix, quiet zone included."""
    size = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    grid = [[0] * size for _ in range(size)]
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                grid[int(y)][int(x) + i] = 1
            x += float(a)
    return grid


def test_label_symbols_carry_the_code():
    for code in ("S20261206-001", "PT-2024-02", "A1"):
        assert _decode_code128(code128_svg(code)) == code
        qr = segno.make_qr(code, error="m", boost_error=True)
        expected = [list(row) for row in qr.matrix_iter(scale=1, border=4)]
        assert _qr_matrix(qr_svg(code)) == [[int(bool(v)) for v in row] for row in expected]
    assert bar_runs("0110100") == [(1, 2), (4, 1)]


def test_registration_form_problems_are_named_by_field():
    now = dt.datetime.now(dt.UTC)
    form = RegistrationForm(code="bad code!", sampled_at="2999-01-01T00:00", sampler1="赵磊",
                            producer_name="新农户")
    problems = registration_problems(form, now=now, may_add_producer=False)
    assert {k: p["code"] for k, p in problems.items()} == {
        "code": "ui.sample_code_invalid", "commodity_code": "ui.field_required", "region_code": "ui.field_required",
        "sampling_place": "ui.field_required", "sampling_link": "ui.field_required",
        "sampled_at": "ui.datetime_future", "samplers": "sample.samplers_required",
        "producer_name": "ui.producer_add_forbidden"}
    assert problems["samplers"]["zh"] == "抽样单须有至少两名抽样人员"


# ------------------------------------------------------------------------------------ through the pages


def test_register_receive_custody_label(app, db_factory):
    tech = signed_in(app, "zhangwei")
    page = tech.get("/samples/new")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "样品登记" in page.text
    for field in ("code", "commodity_code", "sampled_at", "sampler1", "trace_code", "certificate_no", "scan"):
        assert f'id="{field}"' in page.text and f'<label for="{field}"' in page.text
    producer = _producer_id(db_factory, "某县绿源蔬菜专业合作社")
    r = tech.post("/samples/new", data=_form(tech, producer_id=str(producer)), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/samples/S-RCP-001?done=registered"
    with db_factory() as s:
        sample = s.execute(select(Sample).where(Sample.code == "S-RCP-001")).scalar_one()
        assert (sample.status, sample.producer_id, sample.trace_code, sample.samplers) == (
            "registered", producer, "51152120261206000123", "赵磊、孙敏")
        assert s.execute(select(Analysis.status).where(Analysis.sample_id == sample.id)).scalars().all() == [
            "pending"]
    page = tech.get(r.headers["location"])
    assert "样品已登记" in page.text and 'action="/samples/S-RCP-001/receive"' in page.text

    token = _csrf(tech, "/samples/S-RCP-001")
    r = tech.post("/samples/S-RCP-001/receive", data={"csrf_token": token, "condition": "完好，冷藏运输",
                                                     "temperature_c": "4.5", "storage": "样品室 冷藏柜 A"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=received")
    page = tech.get(r.headers["location"]).text
    assert "样品已接收" in page and "4.5 °C" in page and 'action="/samples/S-RCP-001/receive"' not in page

    keep = (dt.datetime.now(LAB_TZ).date() + dt.timedelta(days=90)).isoformat()
    for data in ({"kind": "subsampled", "sub_sample_code": "S-RCP-001-A", "location": "前处理室"},
                 {"kind": "retained", "location": "留样室 R2", "keep_until": keep},
                 {"kind": "stored", "location": "样品室 冷藏柜 A"}):
        r = tech.post("/samples/S-RCP-001/custody", data={"csrf_token": token, **data}, follow_redirects=False)
        assert r.status_code == 303, r.text
    page = tech.get("/samples/S-RCP-001").text
    assert "S-RCP-001-B" in page  # the next free sub-sample code is offered
    assert f"留样室 R2，保存至 {keep}" in page

    # disposal before the keep-until date: the reason is asked for, nothing written
    r = tech.post("/samples/S-RCP-001/custody", data={"csrf_token": token, "kind": "disposed", "location": "销毁"})
    assert r.status_code == 422 and "留样尚未到期：提前处置须在备注中写明原因" in r.text
    assert 'id="dispose-note" name="note"' in r.text and 'aria-describedby="dispose-note-error"' in r.text
    r = tech.post("/samples/S-RCP-001/custody", data={"csrf_token": token, "kind": "disposed", "location": "销毁",
                                                     "note": "受检单位申请复检已结束，经批准提前处置"},
                  follow_redirects=False)
    assert r.status_code == 303
    with db_factory() as s:
        events = s.execute(select(CustodyEvent).join(Sample).where(Sample.code == "S-RCP-001")
                           .order_by(CustodyEvent.id)).scalars().all()
        assert [e.kind for e in events] == ["received", "subsampled", "retained", "stored", "disposed"]
        assert events[0].temperature_c == 4.5 and str(events[2].keep_until) == keep
    r = tech.post("/samples/S-RCP-001/custody", data={"csrf_token": token, "kind": "moved", "location": "x"})
    assert r.status_code == 409 and "该样品已处置" in r.text

    label = tech.get("/samples/S-RCP-001/label")
    assert label.status_code == 200 and "@media print" in label.text
    codes = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="barcode".*?</svg>', label.text)
    assert [_decode_code128(unescape(svg)) for svg in codes] == ["S-RCP-001", "S-RCP-001-A"]
    qrs = re.findall(r'<svg role="img" aria-label="[^"]*" data-qr="([^"]*)".*?</svg>', label.text, re.S)
    assert qrs == ["S-RCP-001", "S-RCP-001-A"]
    first_qr = re.search(r'<svg role="img"[^>]*data-qr="S-RCP-001".*?</svg>', label.text, re.S).group(0)
    expected = segno.make_qr("S-RCP-001", error="m", boost_error=True)
    assert _qr_matrix(first_qr) == [[int(bool(v)) for v in row] for row in expected.matrix_iter(scale=1, border=4)]


def test_scan_prefills_the_form(app):
    tech = signed_in(app, "zhangwei")
    text = "合格证编号：HGZ-7\n品名：芹菜\n生产者：某县青禾家庭农场\n追溯码：5115210000777"
    page = tech.get("/samples/new", params={"scan": text}).text
    assert 'id="certificate_no" name="certificate_no" value="HGZ-7"' in page
    assert 'id="trace_code" name="trace_code" value="5115210000777"' in page
    assert re.search(r'<option value="QINCAI" selected>', page)
    assert re.search(r'<option value="\d+" selected>某县青禾家庭农场', page)
    assert "已识别" in page
    page = tech.get("/samples/new", params={"scan": "两个 词"}).text
    assert "未能从扫描内容中识别" in page


def test_refusals_are_shown_beside_their_field(app, db_factory):
    tech = signed_in(app, "zhangwei")
    r = tech.post("/samples/new", data=_form(tech, region_code="12345", sampler2="", code="S-RCP-002"))
    assert r.status_code == 422
    assert "抽样单须有至少两名抽样人员" in r.text and "未写入任何数据" in r.text
    assert 'id="sampler1" name="sampler1" value="赵磊" maxlength="60" list="inspectors" class="field-error"' in r.text
    # the service's check (GB/T 2260 region code), after the form's own checks passed
    r = tech.post("/samples/new", data=_form(tech, region_code="999999", code="S-RCP-002"))
    assert r.status_code == 422 and "行政区划代码无效" in r.text
    assert re.search(r'id="region_code"[^>]*class="field-error" aria-invalid="true"', r.text)
    assert 'value="某县城关镇蔬菜基地"' in r.text  # what was typed comes back
    assert tech.post("/samples/new", data=_form(tech), follow_redirects=False).status_code == 303
    r = tech.post("/samples/new", data=_form(tech))
    assert r.status_code == 409 and "该样品编号已存在" in r.text
    # a technician may not add to the supervision directory; the QA manager may
    r = tech.post("/samples/new", data=_form(tech, code="S-RCP-003", producer_name="某县新农户"))
    assert r.status_code == 422 and "新增受检单位须有" in r.text
    qa = signed_in(app, "wangfang")
    with session_scope(db_factory, actor="test", reason="test: QA manager registers") as s:
        user = s.execute(select(User).where(User.username == "wangfang")).scalar_one()
        user.roles.append(UserRole(role=str(Role.TECHNICIAN)))
    qa = signed_in(app, "wangfang")
    r = qa.post("/samples/new", data=_form(qa, code="S-RCP-003", producer_name="某县新农户",
                                           producer_credit_code="123"))
    assert r.status_code == 422 and "统一社会信用代码无效" in r.text
    assert re.search(r'id="producer_credit_code"[^>]*class="field-error"', r.text)
    r = qa.post("/samples/new", data=_form(qa, code="S-RCP-003", producer_name="某县新农户"), follow_redirects=False)
    assert r.status_code == 303
    page = qa.get("/samples/S-RCP-003").text
    assert "某县新农户" in page
    # receipt without a condition, a bad temperature
    token = _csrf(tech, "/samples/S-RCP-001")
    r = tech.post("/samples/S-RCP-001/receive", data={"csrf_token": token, "condition": " ", "temperature_c": "冷"})
    assert r.status_code == 422 and "请填写样品接收时的状态" in r.text and "请输入数字" in r.text
    r = tech.post("/samples/S-RCP-001/receive", data={"csrf_token": token, "condition": "完好", "temperature_c": "95"})
    assert r.status_code == 422 and "接收温度超出合理范围" in r.text
    r = tech.post("/samples/S-RCP-001/custody", data={"csrf_token": token, "kind": "retained", "location": ""})
    assert r.status_code == 422 and 'id="retain-keep-until"' in r.text
    assert re.search(r'id="retain-location"[^>]*class="field-error"', r.text)
    with db_factory() as s:
        assert s.execute(select(CustodyEvent.id)).first() is None


def test_reception_needs_samples_write(app):
    reviewer = signed_in(app, "liqiang")
    for r in (reviewer.get("/samples/new"),
              reviewer.post("/samples/new", data=_form(reviewer)),
              reviewer.post("/samples/S20261128-001/receive", data={"csrf_token": _csrf(reviewer),
                                                                   "condition": "完好"})):
        assert r.status_code == 403 and "登记、修改样品" in r.text and 'lang="zh-CN"' in r.text
    assert 'href="/samples/new"' not in reviewer.get("/samples").text


def test_sample_list_search_filters_sort_and_english(app, db_factory):
    demo.register_samples(db_factory)
    tech = signed_in(app, "zhangwei")
    assert tech.post("/samples/new", data=_form(tech), follow_redirects=False).status_code == 303
    page = tech.get("/samples").text
    assert 'class="scroll"' in page and 'data-label="样品编号"' in page
    codes = re.findall(r'<a href="/samples/([^"/]+)">', page)
    assert codes[0] == "S-RCP-001" and len(codes) == 7
    for q, expected in (("511521202612060", ["S-RCP-001"]), ("HGZ-511521-003", ["S20261128-003"]),
                        ("青禾", ["S20261128-006", "S20261128-002"]), ("rcp", ["S-RCP-001"]), ("%", [])):
        found = re.findall(r'<a href="/samples/([^"/]+)">', tech.get("/samples", params={"q": q}).text)
        assert found == expected, q
    by_code = re.findall(r'<a href="/samples/([^"/]+)">', tech.get("/samples", params={"sort": "code"}).text)
    assert by_code == sorted(by_code)
    day = dt.date(2026, 11, 28).isoformat()
    found = re.findall(r'<a href="/samples/([^"/]+)">', tech.get("/samples", params={
        "date_from": day, "date_to": day, "status": "in_analysis", "sort": "sampled_asc"}).text)
    assert found == [f"S20261128-00{i}" for i in range(1, 7)]
    page = tech.get("/samples", params={"date_from": "28/11/2026"}).text
    assert "日期格式不正确" in page and len(re.findall(r'<a href="/samples/([^"/]+)">', page)) == 7

    token = _csrf(tech)
    r = tech.post("/account/language", data={"language": "en", "back": "/samples", "csrf_token": token},
                  follow_redirects=False)
    assert r.status_code == 303
    for path in ("/samples", "/samples/new", "/samples/S-RCP-001", "/samples/S-RCP-001/label"):
        page = tech.get(path).text
        assert 'lang="en"' in page, path
        body = re.sub(r"<(script|style)>.*?</\1>", "", page.split("<main>")[1], flags=re.S)
        for words in ("样品登记", "样品列表", "抽样单", "状态", "打印", "接收", "留样", "备注", "检测项目"):
            assert words not in body, (path, words)
    page = tech.get("/samples/S-RCP-001").text
    assert "Receive the sample" in page and "Chinese chives" in page and "before harvest" in page
    r = tech.post("/samples/S-RCP-001/receive", data={"csrf_token": _csrf(tech), "condition": ""})
    assert r.status_code == 422 and "the condition must be recorded" in r.text


def test_rest_receipt_temperature_and_keep_until(app, db_factory, login):
    """The same service through /api/v1: the temperature on receipt and the retained sample's keep-until date."""
    c = TestClient(app)
    tech = login(c, "zhangwei")
    body = {"code": "S-API-R1", "commodity_code": "JIUCAI", "sampled_at": "2026-12-01T09:00:00+08:00",
            "sampling_place": "某县城关镇", "region_code": "511521", "sampling_link": "retail",
            "samplers": ["赵磊", "孙敏"]}
    assert c.post("/api/v1/samples", headers=tech, json=body).status_code == 201
    r = c.post("/api/v1/samples/S-API-R1/receive", headers=tech, json={"condition": "完好", "temperature_c": 99})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "sample.temperature_invalid"
    r = c.post("/api/v1/samples/S-API-R1/receive", headers=tech, json={"condition": "完好", "temperature_c": -18})
    assert r.status_code == 200
    r = c.post("/api/v1/samples/S-API-R1/custody", headers=tech,
               json={"kind": "retained", "location": "留样室", "keep_until": "2000-01-01"})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "sample.keep_until_past"
    keep = (dt.datetime.now(LAB_TZ).date() + dt.timedelta(days=30)).isoformat()
    r = c.post("/api/v1/samples/S-API-R1/custody", headers=tech,
               json={"kind": "retained", "location": "留样室", "keep_until": keep})
    assert r.status_code == 201
    r = c.post("/api/v1/samples/S-API-R1/custody", headers=tech, json={"kind": "disposed"})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "note"
    with db_factory() as s:
        events = s.execute(select(CustodyEvent).order_by(CustodyEvent.id)).scalars().all()
        assert [(e.kind, e.temperature_c, str(e.keep_until)) for e in events] == [
            ("received", -18.0, "None"), ("retained", None, keep)]
    # a sub-sample code given through the API in Chinese: Code 128 cannot hold it, its label has the QR alone
    r = c.post("/api/v1/samples/S-API-R1/custody", headers=tech, json={"kind": "subsampled", "sub_sample_code": "甲"})
    assert r.status_code == 201
    label = signed_in(app, "zhangwei").get("/samples/S-API-R1/label").text
    assert [_decode_code128(unescape(svg)) for svg in re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" '
                                                                  r'class="barcode".*?</svg>', label)] == ["S-API-R1"]
    assert re.findall(r'data-qr="([^"]*)"', label) == ["S-API-R1", "甲"]


def test_register_from_the_random_sampling_plan(app, db_factory):
    """A sample taken by the 双随机 plan: the plan line gives the producer and is marked sampled; once."""
    from lims.db.models import SamplingAssignment
    from lims.services import sampling

    with session_scope(db_factory, actor="wangfang", reason="test: plan") as s:
        plan = sampling.draw_sampling_plan(s, "T2026-LX-11", producers=2, seed=7)
    line = plan.lines[0]
    with db_factory() as s:
        line_id = s.execute(select(SamplingAssignment.id).where(SamplingAssignment.draw_order == 1)).scalar_one()
    tech = signed_in(app, "zhangwei")
    page = tech.get("/samples/new").text
    assert f'<option value="{line_id}">T2026-LX-11 #1 {line.producer_name}</option>' in page
    r = tech.post("/samples/new", data=_form(tech, assignment_id=str(line_id)), follow_redirects=False)
    assert r.status_code == 303
    with db_factory() as s:
        sample = s.execute(select(Sample).where(Sample.code == "S-RCP-001")).scalar_one()
        assignment = s.get(SamplingAssignment, line_id)
        assert sample.producer_id == line.producer_id and (assignment.status, assignment.sample_id) == (
            "sampled", sample.id)
    r = tech.post("/samples/new", data=_form(tech, code="S-RCP-009", assignment_id=str(line_id)))
    assert r.status_code == 409 and "该抽样计划条目已抽样或已取消" in r.text
    assert re.search(r'id="assignment_id" name="assignment_id" class="field-error"', r.text)


def test_the_scan_script_is_served_from_this_site(app):
    """The registration page's scanner/camera script is a file of this site (the CSP allows no inline
    script), served to anyone (it holds no data) with a JavaScript type."""
    page = signed_in(app, "zhangwei").get("/samples/new").text
    assert '<script src="/static/ui/scan.js" defer></script>' in page and "<script>" not in page
    js = TestClient(app).get("/static/ui/scan.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "BarcodeDetector" in js.text and 'getElementById("scan-form")' in js.text
