"""Complaints and controlled documents in the web UI, through the forms a browser posts (session cookie and CSRF
token): a complaint received → investigated with a nonconformity opened → resolved → closed, the list filtered
by status; a document registered → drafted from an uploaded file (its SHA-256 shown) → approved (the version in
force withdrawn) → distributed → flagged when due for review → reviewed. Every action refuses a technician
(quality:manage) with the 403 page, and bad input with the field named, writing nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims.clock import utcnow
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models_quality import Complaint, ControlledDocument, DocumentVersion
from lims.demo import seed_reference
from lims.quality import complaints, documents
from lims.quality import nonconformity as ncs
from tests.api.ui_session import CSRF, signed_in


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The documents folder (LIMS_DOCUMENTS_DIR) of this test."""
    monkeypatch.setenv("LIMS_DOCUMENTS_DIR", str(tmp_path / "documents"))
    get_settings.cache_clear()
    yield tmp_path / "documents"
    get_settings.cache_clear()


@pytest.fixture
def app(db_engine, db_factory, store):
    seed_reference(db_factory)
    return create_app(db_engine)


def post(client: TestClient, path: str, data: dict[str, object], *, page: str, files: dict | None = None):
    token = CSRF.search(client.get(page).text).group(1)  # type: ignore[union-attr]
    return client.post(path, data={"csrf_token": token, **data}, files=files, follow_redirects=False)


def refused_naming(r, status: int, field: str, zh_words: str) -> None:
    """A refusal page: the status, the Chinese of the code, the field by name, nothing signed or written."""
    assert r.status_code == status, r.text[-600:]
    assert f"<code>{field}</code>" in r.text and zh_words in r.text and "未写入任何数据" in r.text


COMPLAINT = {"code": "TS-2026-001", "complainant": "县农业农村局 刘科长", "subject": "韭菜样品报告结论存疑",
             "description": "S20261128-001 报告为合格，复检机构检出毒死蜱超标。"}


def test_a_complaint_is_received_investigated_with_a_nonconformity_resolved_and_closed(app, db_factory):
    web = signed_in(app, "wangfang")
    page = "/quality/complaints"
    assert 'href="/quality/complaints"' in web.get("/quality").text  # linked from the quality hub
    missing = post(web, page, {**COMPLAINT, "complainant": ""}, page=page)
    refused_naming(missing, 422, "complainant", "必填项未填写")
    assert "投诉人" in missing.text and "韭菜样品报告结论存疑" in missing.text  # the form keeps what was typed
    future = post(web, page, {**COMPLAINT, "received_on": str(utcnow().date() + dt.timedelta(days=3))}, page=page)
    refused_naming(future, 422, "received_on", "日期先后顺序不正确")
    too_long = post(web, page, {**COMPLAINT, "code": "C" * 61}, page=page)
    refused_naming(too_long, 422, "code", "内容超过允许的长度")
    with db_factory() as s:
        assert complaints.list_complaints(s) == []
    r = post(web, page, COMPLAINT, page=page)
    assert r.status_code == 303 and r.headers["location"] == f"{page}/TS-2026-001?done=received"
    detail = f"{page}/TS-2026-001"
    shown = web.get(r.headers["location"]).text
    assert "已受理投诉" in shown and "已受理" in shown and "开始调查" in shown and "关闭投诉" not in shown
    early = post(web, f"{detail}/close", {}, page=detail)
    assert early.status_code == 409 and "记录的当前状态不允许此操作" in early.text
    bad_risk = post(web, f"{detail}/investigate", {"open_nc": "1", "risk": "huge"}, page=detail)
    refused_naming(bad_risk, 422, "risk", "取值不在允许范围内")
    r = post(web, f"{detail}/investigate", {"open_nc": "1", "risk": "high", "owner": "liqiang"}, page=detail)
    assert r.status_code == 303 and r.headers["location"] == f"{detail}?done=investigate"
    with db_factory() as s:
        nc_id = complaints.get_complaint(s, "TS-2026-001").nonconformity_id
        assert nc_id is not None
        nc = ncs.get_nc(s, nc_id)
        assert (nc.source, nc.source_ref, nc.risk) == ("complaint", "TS-2026-001", "high")
    shown = web.get(detail).text
    assert f'href="/quality/ncs/{nc_id}">NC-{nc_id}</a>' in shown and "调查中" in shown and "高" in shown
    empty = post(web, f"{detail}/resolve", {"resolution": "  "}, page=detail)
    refused_naming(empty, 422, "resolution", "必填项未填写")
    assert "处理结果" in empty.text
    r = post(web, f"{detail}/resolve", {"resolution": "留样复测确认超标，已发更正报告并通知委托方。"}, page=detail)
    assert r.status_code == 303
    assert post(web, f"{detail}/close", {}, page=detail).status_code == 303
    with db_factory() as s:
        closed = complaints.get_complaint(s, "TS-2026-001")
        assert closed.status == "closed" and closed.resolution.startswith("留样复测")
    assert "TS-2026-001" in web.get(f"{page}?status=closed").text
    assert "TS-2026-001" not in web.get(f"{page}?status=received").text
    assert post(web, f"{detail}/reopen", {}, page=detail).status_code == 404
    assert web.get(f"{page}/NO-SUCH").status_code == 404


def test_a_technician_receives_a_complaint_but_the_steps_after_it_are_refused(app, db_factory):
    tech = signed_in(app, "zhangwei")
    page = "/quality/complaints"
    assert 'action="/quality/complaints"' in tech.get(page).text  # quality:raise: every lab role receives
    assert post(tech, page, COMPLAINT, page=page).status_code == 303
    detail = f"{page}/TS-2026-001"
    assert "开始调查" not in tech.get(detail).text  # the QA manager's forms are not offered
    for step, data in (("investigate", {"open_nc": "1"}), ("resolve", {"resolution": "已处理"}), ("close", {})):
        r = post(tech, f"{detail}/{step}", data, page=detail)
        assert r.status_code == 403 and "quality:manage" in r.text, step
    with db_factory() as s:
        c = complaints.get_complaint(s, "TS-2026-001")
        assert (c.status, c.resolution, c.nonconformity_id) == ("received", "", None)


def test_complaint_pages_are_in_english_for_an_english_user(app):
    web = signed_in(app, "wangfang")
    post(web, "/quality/complaints", COMPLAINT, page="/quality/complaints")
    hub = web.get("/quality").text
    r = web.post("/account/language", data={"csrf_token": CSRF.search(hub).group(1), "language": "en",  # type: ignore[union-attr]
                                            "back": "/quality"}, follow_redirects=False)
    assert r.status_code == 303
    listed = web.get("/quality/complaints").text
    assert '<html lang="en">' in listed and "Receive a complaint" in listed and "受理投诉" not in listed
    detail = web.get("/quality/complaints/TS-2026-001").text
    assert "Start the investigation" in detail and "received" in detail
    refused = post(web, "/quality/complaints/TS-2026-001/resolve", {"resolution": ""}, page="/quality/complaints")
    assert refused.status_code == 422 and "resolution is missing" in refused.text


# ------------------------------------------------------------------------------------------ documents

SOP = {"code": "SOP-GC-01", "title": "气相色谱仪操作规程", "kind": "sop", "review_interval_months": "12"}


def test_a_document_goes_from_register_to_distribution_and_its_review_when_due(app, db_factory):
    web = signed_in(app, "wangfang")
    page = "/quality/documents"
    assert 'href="/quality/documents"' in web.get("/quality").text
    refused_naming(post(web, page, {**SOP, "kind": "memo"}, page=page), 422, "kind", "取值不在允许范围内")
    refused_naming(post(web, page, {**SOP, "review_interval_months": "abc"}, page=page), 422,
                   "review_interval_months", "数值无效")
    refused_naming(post(web, page, {**SOP, "review_interval_months": "99"}, page=page), 422,
                   "review_interval_months", "取值不在允许范围内")
    refused_naming(post(web, page, {**SOP, "title": ""}, page=page), 422, "title", "必填项未填写")
    r = post(web, page, SOP, page=page)
    assert r.status_code == 303 and r.headers["location"] == f"{page}/SOP-GC-01?done=registered"
    refused_naming(post(web, page, SOP, page=page), 409, "code", "该编号已存在")
    doc = f"{page}/SOP-GC-01"
    content = "气相色谱仪操作规程 第 1 版\n1 范围 …".encode()
    no_file = post(web, f"{doc}/versions", {"version": "1.0"}, page=doc)
    refused_naming(no_file, 422, "file", "请填写此项")
    r = post(web, f"{doc}/versions", {"version": "1.0"}, page=doc, files={"file": ("sop-gc-01.pdf", content)})
    assert r.status_code == 303, r.text[-400:]
    shown = web.get(doc).text
    assert hashlib.sha256(content).hexdigest()[:16] in shown and "草稿" in shown
    refused_naming(post(web, f"{doc}/versions", {"version": "1.0"}, page=doc, files={"file": ("a.pdf", b"x")}), 409,
                   "version", "该编号已存在")
    early = post(web, f"{doc}/versions/1.0/distribute", {"holders": "张伟"}, page=doc)
    refused_naming(early, 409, "version", "只有已批准的现行版本才能分发")
    assert post(web, f"{doc}/versions/1.0/approve", {}, page=doc).status_code == 303
    refused_naming(post(web, f"{doc}/versions/1.0/distribute", {"holders": " , "}, page=doc), 422, "holders",
                   "请填写此项")
    r = post(web, f"{doc}/versions/1.0/distribute", {"holders": "张伟，李强"}, page=doc)
    assert r.status_code == 303
    assert "张伟、李强" in web.get(doc).text
    # a year on: the review is due — flagged on the list, then recorded
    with session_scope(db_factory, actor="test", reason="test: a review date passed") as s:
        v = s.execute(select(DocumentVersion).where(DocumentVersion.version == "1.0")).scalar_one()
        v.next_review_on = utcnow().date() - dt.timedelta(days=1)
    listed = web.get(page).text
    assert re.search(r'<tr class="over"><td><a href="/quality/documents/SOP-GC-01">', listed)
    assert "到期待审查的文件：1 份" in listed
    assert post(web, f"{doc}/versions/1.0/reviewed", {}, page=doc).status_code == 303
    with db_factory() as s:
        assert documents.due_for_review(s) == []
    assert "待审查" not in web.get(page).text
    # a second version approved withdraws the first
    assert post(web, f"{doc}/versions", {"version": "2.0"}, page=doc,
                files={"file": ("v2.pdf", b"v2")}).status_code == 303
    assert post(web, f"{doc}/versions/2.0/approve", {}, page=doc).status_code == 303
    with db_factory() as s:
        states = {v.version: v.status for v in documents.versions(s, "SOP-GC-01")}
    assert states == {"1.0": "obsolete", "2.0": "approved"}
    assert "已作废" in web.get(doc).text
    assert post(web, f"{doc}/versions/2.0/publish", {}, page=doc).status_code == 404
    assert web.get(f"{page}/NO-SUCH").status_code == 404


def test_a_technician_reads_documents_but_every_action_is_refused(app, db_factory):
    with session_scope(db_factory, actor="wangfang", reason="test: a document with a draft") as s:
        documents.register(s, code="SOP-GC-01", title="气相色谱仪操作规程", kind="sop")
        documents.draft(s, "SOP-GC-01", version="1.0", content=b"v1")
    assert web_download(signed_in(app, "zhangwei"), "1.0").content == b"v1"  # reading needs quality:read only
    tech = signed_in(app, "zhangwei")
    page, doc = "/quality/documents", "/quality/documents/SOP-GC-01"
    assert "SOP-GC-01" in tech.get(page).text and 'action="/quality/documents"' not in tech.get(page).text
    shown = tech.get(doc).text
    assert "/approve" not in shown and 'name="version"' not in shown  # the QA manager's forms are not offered
    attempts = [(page, {**SOP, "code": "SOP-X"}, None), (f"{doc}/versions", {"version": "2.0"}, {"file": ("f", b"x")}),
                (f"{doc}/versions/1.0/approve", {}, None), (f"{doc}/versions/1.0/distribute", {"holders": "a"}, None),
                (f"{doc}/versions/1.0/reviewed", {}, None)]
    for path, data, files in attempts:
        r = post(tech, path, data, page=page, files=files)
        assert r.status_code == 403 and "quality:manage" in r.text, path
    with db_factory() as s:
        assert s.execute(select(ControlledDocument.code)).scalars().all() == ["SOP-GC-01"]
        assert [(v.version, v.status) for v in documents.versions(s, "SOP-GC-01")] == [("1.0", "draft")]
        assert s.execute(select(Complaint)).first() is None


def web_download(client: TestClient, version: str, code: str = "SOP-GC-01"):
    return client.get(f"/api/v1/quality/documents/{code}/versions/{version}/file")


def test_an_uploaded_version_downloads_byte_for_byte_and_a_changed_or_missing_file_is_refused(app, store):
    web = signed_in(app, "wangfang")
    page, doc = "/quality/documents", "/quality/documents/SOP-GC-01"
    assert post(web, page, SOP, page=page).status_code == 303
    pdf = b"%PDF-1.7\n" + "气相色谱仪操作规程 第 1 版".encode() + bytes(range(256)) * 40 + b"\n%%EOF\n"
    assert post(web, f"{doc}/versions", {"version": "1.0"}, page=doc,
                files={"file": ("sop-gc-01.pdf", pdf)}).status_code == 303
    digest = hashlib.sha256(pdf).hexdigest()
    assert [p.name for p in store.iterdir()] == [digest]  # named by its SHA-256, no temporary file left
    link = "/api/v1/quality/documents/SOP-GC-01/versions/1.0/file"
    assert f'href="{link}"' in web.get(doc).text
    got = web.get(link)
    assert got.status_code == 200 and got.content == pdf and got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-sha256"] == digest
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''SOP-GC-01_1.0.pdf"
    (store / digest).write_bytes(pdf.replace(b"\xff", b"\xfe", 1))  # replaced behind the application
    altered = web.get(link)
    assert altered.status_code == 409 and altered.json()["detail"]["code"] == "document.file_altered"
    (store / digest).unlink()
    gone = web.get(link)
    assert gone.status_code == 410 and gone.json()["detail"]["code"] == "document.file_missing"
    assert web_download(web, "9.9").status_code == 404
    # the same content drafted again (a later version restating it) puts the file back, whole
    assert post(web, f"{doc}/versions", {"version": "1.1"}, page=doc, files={"file": ("a.pdf", pdf)}).status_code == 303
    assert web.get(link).content == pdf and sorted(p.name for p in store.iterdir()) == [digest]
