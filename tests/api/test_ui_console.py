"""The dashboard, the global search, the instrument console (raw-capture viewer, unmatched readings assigned
and dismissed through the forms) and /docs with local assets — through the web UI's routes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Analysis, Instrument, RawCapture, Reading, ReadingDisposition, Result, Sample
from lims.demo import register_samples, seed_reference
from lims.demo.reference import SAMPLES_DAY
from lims.services.views import dashboard as dash
from lims.services.views.instrument_console import frames_of
from tests.api.ui_session import CSRF, signed_in


def _post(client: TestClient, path: str, data: dict[str, object], page: str):
    token = CSRF.search(client.get(page).text).group(1)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def _unmatched_run(factory) -> tuple[int, int]:
    """EI-01 sent a run for an unknown sample ID (S-UNKNOWN-9): its control channel and one sample channel,
    from one capture; returns (capture id, the sample channel's reading id)."""
    data = b"#RUN,R77\r\n#CH,0,01,CTRL,0.4000,0.9000,0.0*00\r\n#CH,5,02,S-UNKNOWN-9,0.4000,0.6000,60.0*00\r\n"
    with session_scope(factory, actor="test", reason="test: a run for an unknown sample") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-01")).scalar_one()
        cap = RawCapture(instrument_id=inst.id, data=data, sha256=hashlib.sha256(data).hexdigest(),
                         profile="enzyme_ascii_16ch", parse_status="parsed")
        s.add(cap)
        s.flush()
        s.add(Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH", channel=0, sample_code="CTRL",
                      run_no="R77", fields={"a0": 0.4, "a3": 0.9}))
        reading = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH", channel=5,
                          sample_code="S-UNKNOWN-9", run_no="R77", fields={"a0": 0.4, "a3": 0.6})
        s.add(reading)
        s.flush()
        return cap.id, reading.id


@pytest.fixture
def app(db_engine, db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    return create_app(db_engine)


def test_frames_name_the_control_bytes_and_binary_is_shown_in_hex():
    astm = b"\x05\x021H|\\^&\r\x0354\r\n\x04"
    assert frames_of(astm) == ["<ENQ>", "<STX>1H|\\^&<CR><ETX>54<CR><LF>", "<EOT>"]
    binary = bytes(range(0x80, 0xA0))
    assert frames_of(binary) == ["0000  " + " ".join(f"{b:02X}" for b in range(0x80, 0x90)),
                                 "0010  " + " ".join(f"{b:02X}" for b in range(0x90, 0xA0))]


def test_dashboard_counts_the_day_and_overdue_work(db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)  # six screening samples received at 12:00 Beijing time on 2026-11-28
    with db_factory() as s:
        same_day = dash.dashboard(s, now=SAMPLES_DAY)
        later = dash.dashboard(s, now=SAMPLES_DAY + dt.timedelta(days=2))
    assert same_day["today"] == "2026-11-28" and same_day["work"]["samples_total"] == 6
    assert same_day["overdue"]["total"] == 0  # within the rapid test's one day
    assert later["work"]["samples_total"] == 0 and later["overdue"]["total"] == 6
    assert later["overdue"]["rows"][0]["hours_overdue"] == pytest.approx(26.0, abs=0.01)
    names = {i["code"]: i for i in later["instruments"]["instruments"]}
    assert set(names) >= {"EI-01"} and later["upstream"]["pending"] == 0


def test_local_day_is_beijing_midnight_to_midnight():
    start, end = dash.local_day(dt.datetime(2026, 11, 28, 17, 30, tzinfo=dt.UTC))  # 01:30 on the 29th in Beijing
    assert start == dt.datetime(2026, 11, 28, 16, 0) and end == dt.datetime(2026, 11, 29, 16, 0)


def test_dashboard_page_in_chinese_and_in_english(app, db_factory):
    web = signed_in(app, "wangfang")
    page = web.get("/").text
    for shown in ("工作台", "超过检测周期", "不合格结果", "质控警示", "仪器状态", "上报积压", 'action="/search"'):
        assert shown in page, shown
    assert 'href="/instruments/EI-01"' in page
    r = _post(web, "/account/language", {"language": "en", "back": "/"}, page="/")
    assert r.status_code == 303
    english = web.get("/").text
    assert "Dashboard" in english and "Past the turnaround time" in english and "工作台" not in english


def test_search_by_code_trace_code_certificate_and_producer(app, db_factory):
    web = signed_in(app, "zhangwei")
    r = web.get("/search", params={"q": "S20261128-003"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/samples/S20261128-003"
    for q in ("5115210042026", "hgz-511521-004"):  # 追溯码, 合格证 (any case)
        page = web.get("/search", params={"q": q}).text
        assert "S20261128-004" in page and "S20261128-003" not in page, q
    with db_factory() as s:
        producer = s.execute(select(Sample).where(Sample.code == "S20261128-002")).scalar_one().producer.name
    by_producer = web.get("/search", params={"q": producer[2:6]}).text
    assert "S20261128-002" in by_producer
    nothing = web.get("/search", params={"q": "100%_"}).text  # wildcards are taken literally
    assert "没有匹配的样品" in nothing
    assert "至少输入 2 个字符" in web.get("/search", params={"q": "S"}).text


def test_console_shows_frames_and_assigns_an_unmatched_reading(app, db_factory):
    cap_id, reading_id = _unmatched_run(db_factory)
    web = signed_in(app, "zhangwei")
    console = web.get("/instruments/EI-01")
    assert console.status_code == 200 and "仪器控制台" in console.text and "S-UNKNOWN-9" in console.text
    assert f'/instruments/EI-01/readings/{reading_id}/assign' in console.text
    # the analyses offered are named by their kind in words (confirmatory ones are offered too, for ASTM R)
    offered = console.text.split(f"/readings/{reading_id}/assign", 1)[1].split("</form>", 1)[0]
    assert "· 快速筛查 ·" in offered and "screening" not in offered
    viewer = web.get(f"/instruments/EI-01/captures/{cap_id}").text
    assert "#CH,5,02,S-UNKNOWN-9,0.4000,0.6000,60.0*00&lt;CR&gt;&lt;LF&gt;" in viewer and "解析出的读数" in viewer
    assert web.get(f"/instruments/LC-01/captures/{cap_id}").status_code == 404  # another instrument's capture
    with db_factory() as s:
        analysis_id = s.execute(select(Analysis.id).join(Sample).where(Sample.code == "S20261128-005")).scalar_one()
    refused = _post(web, f"/instruments/EI-01/readings/{reading_id}/assign",
                    {"analysis_id": analysis_id, "reason": "  "}, page="/instruments/EI-01")
    assert refused.status_code == 422 and "请填写原因" in refused.text
    done = _post(web, f"/instruments/EI-01/readings/{reading_id}/assign",
                 {"analysis_id": analysis_id, "reason": "样品编号输错，按批次记录核对为 S20261128-005"},
                 page="/instruments/EI-01")
    assert done.status_code == 303 and "done=assigned" in done.headers["location"]
    with db_factory() as s:
        result = s.execute(select(Result).where(Result.reading_id == reading_id)).scalar_one()
        assert result.analysis_id == analysis_id and result.inhibition_percent == pytest.approx(60.0)  # (0.5 − 0.2) / 0.5
    again = _post(web, f"/instruments/EI-01/readings/{reading_id}/dismiss", {"reason": "重复"},
                  page="/instruments/EI-01")
    assert again.status_code == 409 and "已指派或已忽略" in again.text


def test_dismiss_needs_results_enter_and_a_reason(app, db_factory):
    _, reading_id = _unmatched_run(db_factory)
    reviewer = signed_in(app, "liqiang")
    assert "/dismiss" not in reviewer.get("/instruments/EI-01").text
    assert _post(reviewer, f"/instruments/EI-01/readings/{reading_id}/dismiss", {"reason": "x"},
                 page="/instruments/EI-01").status_code == 403
    tech = signed_in(app, "zhangwei")
    r = _post(tech, f"/instruments/EI-01/readings/{reading_id}/dismiss", {"reason": "仪器自检样本，非送检样品"},
              page="/instruments/EI-01")
    assert r.status_code == 303
    assert f"读数 #{reading_id} 已忽略" in tech.get(r.headers["location"]).text
    with db_factory() as s:
        assert s.execute(select(ReadingDisposition.action).where(
            ReadingDisposition.reading_id == reading_id)).scalar_one() == "dismissed"


def test_docs_are_served_with_local_assets(app):
    client = TestClient(app)
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200 and "cdn.jsdelivr.net" not in html.text and "fonts.googleapis" not in html.text
        assets = re.findall(r'(?:src|href)="(/static/docs/[^"]+)"', html.text)
        assert assets, page
        for asset in assets:
            r = client.get(asset)
            assert r.status_code == 200 and len(r.content) > 500, asset
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_audit_trail_filters_in_words_and_hides_sign_ins(app, db_factory):
    web = signed_in(app, "wangfang")  # signing in writes login rows
    page = web.get("/audit").text
    assert "登录与退出记录已隐藏" in page and "<td>登录</td>" not in page
    assert '<option value="sample">样品</option>' in page and '<option value="zhangwei">张伟（zhangwei）</option>' in page
    with_logins = web.get("/audit", params={"logins": "1", "action": "login"}).text
    assert "<td>登录</td>" in with_logins and "王芳" in with_logins
    samples = web.get("/audit", params={"actor": "zhangwei", "table": "sample"}).text
    assert '<a href="/samples/S20261128-001">S20261128-001</a>' in samples and "张伟" in samples
    assert "demo reference data" not in samples  # another person's events are filtered out
    future = web.get("/audit", params={"since": "2099-01-01"}).text
    assert "没有符合条件的审计事件" in future
    assert web.get("/audit", params={"since": "not a date", "action": "nonsense"}).status_code == 200
