"""The zh-CN web UI through its HTML forms, with the session cookie and the CSRF token a browser would send:
pages render, review → approve → report end to end, refusals (wrong password, segregation of duties,
missing permission, missing CSRF token) are shown in Chinese and sign nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.ui import audit_changes, local_time, ui_error
from lims.db.engine import session_scope
from lims.db.models import Analysis, Instrument, RawCapture, Result, Sample, Signature, User
from lims.demo import PASSWORDS, register_samples, seed_reference
from lims.services import batches, signoff

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
APPROVE_BUTTON = 'formaction="/review/sign/approve"'
REVIEW_BUTTON = 'formaction="/review/sign/review"'


@dataclass
class Lab:
    app: FastAPI
    factory: sessionmaker[Session]
    result_ids: list[int]  # manual results of S20261128-001/-002, authored by zhangwei, to be reviewed

    def browser(self, username: str | None = None) -> TestClient:
        """A client with its own cookie jar, logged in through the HTML form (CSRF double submit)."""
        client = TestClient(self.app)
        if username is not None:
            token = csrf_of(client.get("/login").text)
            r = client.post("/login", data={"username": username, "password": PASSWORDS[username],
                                            "csrf_token": token}, follow_redirects=False)
            assert r.status_code == 303, r.text
        return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _user_id(s: Session, username: str) -> int:
    return s.execute(select(User.id).where(User.username == username)).scalar_one()


def _manual_results(factory: sessionmaker[Session], codes: list[str], *, analyst: str) -> list[int]:
    with session_scope(factory, actor=analyst, reason="test: manual entry") as s:
        analyst_id = _user_id(s, analyst)
        ids = []
        for code in codes:
            analysis_id = s.execute(select(Analysis.id).join(Sample).where(Sample.code == code)).scalar_one()
            ids.append(batches.enter_manual_result(
                s, analysis_id=analysis_id, value_text="12.0", value=12.0, unit="%",
                reason="读数仪故障，人工录入抑制率", analyst_id=analyst_id).id)
    return ids


@pytest.fixture
def lab(db_engine, db_factory, tmp_path, monkeypatch) -> Lab:
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    from lims.config import get_settings

    get_settings.cache_clear()
    seed_reference(db_factory)
    register_samples(db_factory)
    ids = _manual_results(db_factory, ["S20261128-001", "S20261128-002"], analyst="zhangwei")
    with session_scope(db_factory, actor="zhangwei", reason="test: authorship") as s:
        signoff.author_results(s, ids, username="zhangwei", password=PASSWORDS["zhangwei"])
    yield Lab(create_app(db_engine), db_factory, ids)
    get_settings.cache_clear()


def _held_result(lab: Lab) -> int:
    """A result of S20261128-004 in batch B-HELD whose CCV failed, authored by zhangwei."""
    with session_scope(lab.factory, actor="zhangwei", reason="test: batch with a failed CCV") as s:
        analysis_id = s.execute(select(Analysis.id).join(Sample).where(Sample.code == "S20261128-004")).scalar_one()
        batches.create_batch(s, code="B-HELD", method_code="RAPID-EI", instrument_code=None,
                             analysis_ids=[analysis_id])
        batches.add_qc(s, "B-HELD", kind="ccv", nominal_value=0.10, measured_value=0.13)
        assert not batches.evaluate_batch_qc(s, "B-HELD").passed
    [rid] = _manual_results(lab.factory, ["S20261128-004"], analyst="zhangwei")
    with session_scope(lab.factory, actor="zhangwei", reason="test: authorship") as s:
        signoff.author_results(s, [rid], username="zhangwei", password=PASSWORDS["zhangwei"])
    return rid


def _signatures(lab: Lab, meaning: str) -> list[tuple[int, str]]:
    with lab.factory() as s:
        return [(sig.record_id, sig.printed_name) for sig in s.execute(
            select(Signature).where(Signature.meaning == meaning).order_by(Signature.record_id)).scalars()]


def _statuses(lab: Lab) -> list[str]:
    with lab.factory() as s:
        return [s.get(Result, i).status for i in lab.result_ids]  # type: ignore[union-attr]


def _post(client: TestClient, path: str, data: dict[str, object], *, page: str = "/review"):
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **data}, follow_redirects=False)


def _corrupted_capture(lab: Lab) -> None:
    """EI-01 online with one line whose checksum failed (the demo's corrupted enzyme-tester line)."""
    with session_scope(lab.factory, actor="test", reason="test: a corrupted line") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-01")).scalar_one()
        inst.connected, inst.message_count, inst.error_count = True, 11, 1
        data = b"#CH,1,02,S20261128-002,0.3780,0.5265,67.0*D3\r\n"
        s.add(RawCapture(instrument_id=inst.id, data=data, sha256=hashlib.sha256(data).hexdigest(),
                         profile="enzyme_ascii_16ch", parse_status="error",
                         error="ChecksumError: xor8 checksum D3 does not match computed 6F"))


# ------------------------------------------------------------------------------------------ pure helpers


def test_local_time_shows_beijing_time_with_its_offset():
    # China Standard Time is UTC+8 all year (no daylight saving since 1991); naive values are stored UTC
    assert local_time("2026-11-28T14:24:01") == "2026-11-28 22:24:01 +08:00"
    assert local_time(dt.datetime(2026, 11, 28, 20, 0, tzinfo=dt.UTC)) == "2026-11-29 04:00:00 +08:00"
    assert local_time("2026-11-28T22:24:01+08:00") == "2026-11-28 22:24:01 +08:00"
    assert local_time(None) == "—" and local_time("not a date") == "not a date"


def test_audit_changes_show_only_what_changed():
    assert audit_changes('{"status": "to_be_reviewed", "value": 1}', '{"status": "reviewed", "value": 1}') == [
        {"field": "status", "old": "to_be_reviewed", "new": "reviewed"}]
    assert audit_changes("", '{"code": "S-1"}') == [{"field": "code", "old": "", "new": "S-1"}]
    assert audit_changes('{"code": "S-1"}', "") == [{"field": "code", "old": "S-1", "new": ""}]


def test_service_refusals_are_shown_in_chinese_by_their_code_naming_the_field():
    e = ui_error(403, {"message": "result 7: the reviewer must not be the analyst", "field": "result_ids",
                       "code": "signoff.reviewer_is_analyst"})
    assert e["zh"].startswith("职责分离") and e["field_zh"] == "所选结果" and "result 7" in e["en"]
    e = ui_error(409, {"message": "result 3 is held: batch B1 failed QC: CCV 25 %", "field": "result_ids",
                       "code": "batch.qc_failed"})
    assert "批次质控未通过" in e["zh"]
    # the wording may change freely: a reworded message keeps its Chinese, a message alone gets none
    assert ui_error(409, {"message": "reworded entirely", "code": "batch.qc_failed"})["zh"] == e["zh"]
    generic = "操作未完成，未写入任何数据"
    assert ui_error(403, {"message": "result 7: the reviewer must not be the analyst", "code": None})["zh"] == generic
    assert ui_error(400, {"message": "x", "code": "no.such_code"})["zh"] == generic
    assert ui_error(400, "something new") == {"status": 400, "field": None, "field_zh": None, "code": None,
                                              "zh": generic, "en": "something new"}
    # a bilingual message (签名失败：… / signature refused: …) shows its English part after the Chinese
    e = ui_error(403, {"message": "签名失败：用户名或密码错误 / signature refused: wrong username or password",
                       "field": "password", "code": "auth.wrong_password"})
    assert e["zh"].startswith("密码错误") and e["en"] == "signature refused: wrong username or password"


# ------------------------------------------------------------------------------------------ pages


def test_pages_render_in_chinese_with_navigation_and_logout(lab):
    _corrupted_capture(lab)
    anonymous = lab.browser()
    r = anonymous.get("/samples?status=in_analysis", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/samples")
    web = lab.browser("wangfang")
    pages = {"/": "工作台", "/samples": "样品列表", "/review": "待审核", "/batches": "批次", "/reports": "检验报告",
             "/pt": "能力验证", "/instruments": "仪器状态", "/audit": "审计追踪"}
    for path, heading in pages.items():
        page = web.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert 'lang="zh-CN"' in page.text and f"<h1>{heading}" in page.text, path
        assert "王芳" in page.text and 'action="/logout"' in page.text and csrf_of(page.text), path
        assert page.headers["cache-control"] == "no-store"
    samples = web.get("/samples", params={"status": "in_analysis"}).text
    assert "S20261128-003" in samples and "S20261128-001" not in samples  # 001 and 002 are to_be_reviewed
    assert "共 4 条" in samples
    detail = web.get("/samples/S20261128-001").text
    # the sampling record as lims.demo.register_samples wrote it: region, link, 合格证, 追溯码, samplers
    for shown in ("511521", "采收前", "HGZ-511521-001", "5115210012026", "赵磊、孙敏", "韭菜",
                  "检验 / Tested by：张伟", "+08:00", "待审核"):
        assert shown in detail, shown
    instruments = web.get("/instruments").text
    assert "在线" in instruments and "离线" in instruments
    assert "ChecksumError" in instruments and "S20261128-002,0.3780" in instruments and "重新解析" in instruments
    # re-parsing keeps the capture: a checksum error stays an error after the re-parse
    r = _post(web, "/instruments/EI-01/reparse", {}, page="/instruments")
    assert r.status_code == 303 and r.headers["location"] == "/instruments/EI-01?done=reparsed&readings=0&errors=1#done"
    assert "已重新解析" in web.get(r.headers["location"]).text
    assert _post(web, "/instruments/NOPE/reparse", {}, page="/instruments").status_code == 404
    missing = web.get("/samples/NOPE")
    assert missing.status_code == 404 and "未找到" in missing.text
    # a technician's navigation has no audit entry, and the audit page refuses them
    tech = lab.browser("zhangwei")
    assert 'href="/audit"' not in tech.get("/samples").text
    assert tech.get("/audit").status_code == 403
    assert "重新解析" not in tech.get("/instruments").text  # re-parsing needs instruments:write
    # the logout button (POST with the CSRF token) ends the session
    r = _post(web, "/logout", {}, page="/samples")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert web.get("/samples", follow_redirects=False).status_code == 303


# ------------------------------------------------------------------------------------------ review and approval


def test_review_approve_issue_a_report_and_audit_through_the_forms(lab):
    reviewer, approver = lab.browser("liqiang"), lab.browser("wangfang")
    queue = reviewer.get("/review").text
    assert REVIEW_BUTTON in queue and APPROVE_BUTTON not in queue
    assert all(f'name="result_id" value="{i}"' in queue for i in lab.result_ids)
    r = _post(reviewer, "/review/sign/review", {"result_id": lab.result_ids, "password": PASSWORDS["liqiang"]})
    assert r.status_code == 303 and r.headers["location"] == "/review?done=review&n=2"
    assert "已审核签名 2 条结果" in reviewer.get(r.headers["location"]).text
    assert _statuses(lab) == ["reviewed", "reviewed"]

    queue = approver.get("/review").text
    assert APPROVE_BUTTON in queue and REVIEW_BUTTON not in queue
    r = _post(approver, "/review/sign/approve", {"result_id": [lab.result_ids[0]], "password": PASSWORDS["wangfang"]})
    assert r.status_code == 303 and r.headers["location"] == "/review?done=approval&n=1"
    assert _statuses(lab) == ["certified", "reviewed"]
    assert _signatures(lab, "review") == [(i, "李强") for i in lab.result_ids]
    assert _signatures(lab, "approval") == [(lab.result_ids[0], "王芳")]
    detail = approver.get("/samples/S20261128-001").text
    for meaning in ("检验 / Tested by：张伟", "审核 / Reviewed by：李强", "批准 / Approved by：王芳"):
        assert re.search(re.escape(meaning) + r" · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00", detail), meaning

    reports = approver.get("/reports").text
    assert '<option value="S20261128-001"' in reports and '<option value="S20261128-002"' not in reports
    r = _post(approver, "/reports/issue", {"sample_code": "S20261128-001", "language": "zh-CN"}, page="/reports")
    assert r.status_code == 303 and r.headers["location"] == "/reports?issued=JCS20261128-001"
    reports = approver.get("/reports").text
    assert 'href="/api/v1/reports/JCS20261128-001/pdf"' in reports and 'href="/verify/JCS20261128-001?sha256=' in reports
    assert "已签发报告 JC-FORGED" not in approver.get("/reports", params={"issued": "JC-FORGED"}).text
    pdf = lab.browser("zhangwei").get("/api/v1/reports/JCS20261128-001/pdf")  # the session cookie suffices
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    again = _post(approver, "/reports/issue", {"sample_code": "S20261128-001"}, page="/reports")
    assert again.status_code == 409 and "已有报告" in again.text

    # the audit page shows who/what/old → new/why, and the chain and the certified result verify
    page = approver.get("/audit", params={"table": "result"}).text
    assert "review signature (web UI)" in page and "liqiang" in page
    assert "<code>status</code>：to_be_reviewed → reviewed" in page
    verified = approver.get("/audit/verify").text
    assert "审计链完整" in verified and "1 条已批准结果与其签名内容一致" in verified


def test_refusals_are_shown_in_chinese_and_sign_nothing(lab):
    reviewer = lab.browser("liqiang")
    r = _post(reviewer, "/review/sign/review", {"result_id": lab.result_ids, "password": "not-my-password"})
    assert r.status_code == 403
    assert "密码错误，未签名" in r.text and 'class="field-error"' in r.text and "<code>password</code>" in r.text
    assert all(f'value="{i}" id="r{i}" checked' in r.text for i in lab.result_ids)  # the selection is kept
    empty = _post(reviewer, "/review/sign/review", {"password": PASSWORDS["liqiang"]})
    assert empty.status_code == 422 and "请至少勾选一条结果" in empty.text
    # segregation of duties: a result the reviewer analysed refuses the whole request (all or nothing)
    own = _manual_results(lab.factory, ["S20261128-003"], analyst="liqiang")
    r = _post(reviewer, "/review/sign/review", {"result_id": [lab.result_ids[0], *own],
                                                 "password": PASSWORDS["liqiang"]})
    assert r.status_code == 403 and "职责分离：审核人不得为该结果的检验人" in r.text
    # a result held by its batch's failed CCV (drift +30 % > 20 %, SANTE/11312/2021) cannot be reviewed
    held = _held_result(lab)
    queue = reviewer.get("/review").text
    assert "B-HELD" in queue and "质控失败（结果暂停）" in queue
    r = _post(reviewer, "/review/sign/review", {"result_id": [lab.result_ids[0], held],
                                                 "password": PASSWORDS["liqiang"]})
    assert r.status_code == 409 and "批次质控未通过，结果暂停，不能审核" in r.text and "CCV drift" in r.text
    assert _signatures(lab, "review") == [] and _statuses(lab) == ["to_be_reviewed", "to_be_reviewed"]


def test_technician_sees_no_sign_option_and_csrf_is_required(lab):
    tech = lab.browser("zhangwei")
    queue = tech.get("/review").text
    assert APPROVE_BUTTON not in queue and REVIEW_BUTTON not in queue and "仅可查看" in queue
    for path in ("/review/sign/approve", "/review/sign/review", "/review/reject/review"):
        r = _post(tech, path, {"result_id": lab.result_ids, "password": PASSWORDS["zhangwei"],
                               "reason": "technician tries to reject"})
        assert r.status_code == 403, path
    r = _post(tech, "/reports/issue", {"sample_code": "S20261128-001"}, page="/reports")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "无权访问" in r.text and "签发检验报告" in r.text and "reports:issue" in r.text
    # a reviewer's POST without the CSRF token (or with a forged one) is refused before anything runs
    reviewer = lab.browser("liqiang")
    form = {"result_id": lab.result_ids, "password": PASSWORDS["liqiang"]}
    assert reviewer.post("/review/sign/review", data=form, follow_redirects=False).status_code == 403
    forged = reviewer.post("/review/sign/review", data=form | {"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and forged.headers["content-type"].startswith("text/html")
    assert "表单已失效，请刷新页面后重试" in forged.text and "CSRF token missing or wrong" in forged.text
    assert _signatures(lab, "review") == [] and _signatures(lab, "approval") == []
    assert _statuses(lab) == ["to_be_reviewed", "to_be_reviewed"]


def test_reject_for_retest_needs_a_reason_and_is_signed(lab):
    reviewer = lab.browser("liqiang")
    form = {"result_id": [lab.result_ids[1]], "password": PASSWORDS["liqiang"], "retest": "1"}
    short = _post(reviewer, "/review/reject/review", form | {"reason": "bad"})
    assert short.status_code == 422 and "退回必须填写原因" in short.text
    assert _signatures(lab, "rejection") == []
    r = _post(reviewer, "/review/reject/review", form | {"reason": "平行样相对偏差超过 30%，重新检测"})
    assert r.status_code == 303 and r.headers["location"] == "/review?done=rejection&n=1"
    assert _statuses(lab) == ["to_be_reviewed", "rejected"]
    assert _signatures(lab, "rejection") == [(lab.result_ids[1], "李强")]
    with lab.factory() as s:
        assert s.execute(select(Sample.status).where(Sample.code == "S20261128-002")).scalar_one() == "retest"
