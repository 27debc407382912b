"""/api/v1/quality registers over HTTP (issue 15): who may do what on every new endpoint (registers:read for
lab roles, registers:write for the QA manager and the administrator, an instrument's exception and the
authorisation matrix for the QA manager only, nothing for an anonymous caller), a register → overdue →
exception path, lots with an expired one, the certificate size limit, an environment excursion opening a
nonconformity, the survey as JSON, CSV and PDF; a calibration certificate kept in the evidence folder and
downloaded checked against its SHA-256 (identical bytes; 409 altered, 410 missing, 404 none), linked from the
registers page."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.quality_registers import router
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.demo import seed_reference
from lims.quality.common import MAX_FILE_BYTES
from lims.services import auth

pytestmark = pytest.mark.db
PASSWORD = "Registers-Test-Passw0rd!"
P = "/api/v1/quality"
TODAY = dt.datetime.now(dt.UTC).date()
#: every route of the module → the role-holders allowed (tech/qa/admin)
WRITE = {"qa", "admin"}
READ = {"qa", "admin", "tech"}
QA_ONLY = {"qa"}


@pytest.fixture(autouse=True)
def evidence(tmp_path, monkeypatch):
    """The evidence folder (LIMS_EVIDENCE_DIR) of this test: certificates are kept there."""
    monkeypatch.setenv("LIMS_EVIDENCE_DIR", str(tmp_path / "evidence"))
    get_settings.cache_clear()
    yield tmp_path / "evidence"
    get_settings.cache_clear()


@pytest.fixture
def client(db_engine, db_factory):
    seed_reference(db_factory)
    with session_scope(db_factory, actor="setup") as s:
        tokens = {}
        for username, role in (("qa", "qa_manager"), ("tech", "technician"), ("sysadmin", "admin")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            tokens[username if username != "sysadmin" else "admin"] = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    c.h = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}  # type: ignore[attr-defined]
    return c


def _expected(path: str, method: str) -> set[str]:
    if path.endswith(("/exceptions", "/release-excepted")) or (path.endswith("/authorisations") and method == "POST"):
        return QA_ONLY
    return READ if method == "GET" else WRITE


def test_every_new_endpoint_checks_its_permission(client):
    routes = [(r.path, meth) for r in router.routes for meth in r.methods]  # type: ignore[attr-defined]
    assert len(routes) >= 25
    for path, method in routes:
        url = path.replace("{code}", "EI-01").replace("{check_id}", "1").replace("{username}", "tech")
        kw = {"files": {"file": ("c.pdf", b"x")}} if path.endswith("/certificate") else (
            {"json": {}} if method in ("POST", "PUT") else {})
        assert client.request(method, url, **kw).status_code == 401, (method, path)
        allowed = _expected(path, method)
        for who in ("tech", "qa", "admin"):
            code = client.request(method, url, headers=client.h[who], **kw).status_code
            assert (code != 403) == (who in allowed), (method, path, who, code)


def test_instrument_register_overdue_exception_path(client):
    qa, tech = client.h["qa"], client.h["tech"]
    assert client.put(f"{P}/instruments/EI-01/register", json={"asset_no": "ZC-01", "calibration_interval_days": 365},
                      headers=qa).status_code == 200
    assert client.get(f"{P}/instruments/EI-01/fitness", headers=tech).json()["fitness"] == "never_calibrated"
    r = client.post(f"{P}/instruments/EI-01/checks", headers=qa, json={
        "kind": "calibration", "performed_on": str(TODAY - dt.timedelta(days=400)), "outcome": "pass",
        "due_on": str(TODAY - dt.timedelta(days=35)), "certificate_no": "JZ-1", "provider": "县计量所"})
    assert r.status_code == 201, r.text
    check_id = r.json()["id"]
    big = client.post(f"{P}/instruments/EI-01/checks/{check_id}/certificate", headers=qa,
                      files={"file": ("cert.pdf", b"\0" * (MAX_FILE_BYTES + 1), "application/pdf")})
    assert big.status_code in (413, 422) and big.json()["detail"]["code"] in ("quality.file_too_large", "request.too_large")
    ok = client.post(f"{P}/instruments/EI-01/checks/{check_id}/certificate", headers=qa,
                     files={"file": ("cert.pdf", b"%PDF-1.4", "application/pdf")})
    assert ok.status_code == 200 and len(ok.json()["certificate_sha256"]) == 64
    f = client.get(f"{P}/instruments/EI-01/fitness", headers=tech).json()
    assert (f["fitness"], f["fitness_label"], f["may_feed"]) == ("overdue", "检定/校准过期", False)
    nc = client.post(f"{P}/instruments/overdue-nonconformities", headers=qa).json()["nonconformity_ids"]
    assert len(nc) == 1
    bad = client.post(f"{P}/instruments/EI-01/exceptions", headers=qa, json={
        "justification": "排期", "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).isoformat()})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "quality.exception_too_long"
    r = client.post(f"{P}/instruments/EI-01/exceptions", headers=qa, json={
        "justification": "校准排期至下周，每批加测质控样", "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).isoformat()})
    assert r.status_code == 201, r.text
    assert client.get(f"{P}/instruments/EI-01/fitness", headers=tech).json()["fitness"] == "exception"
    wrong = client.post(f"{P}/instruments/EI-01/checks", headers=qa, json={
        "kind": "calibration", "performed_on": str(TODAY), "due_on": str(TODAY - dt.timedelta(days=1)),
        "outcome": "pass", "certificate_no": "X"})
    assert wrong.status_code == 422 and wrong.json()["detail"]["code"] == "quality.dates_out_of_order"


def test_lots_environment_and_survey(client):
    qa, tech = client.h["qa"], client.h["tech"]
    r = client.post(f"{P}/materials", headers=qa, json={
        "code": "RM-1", "kind": "reference_material", "name": "毒死蜱", "expires_on": str(TODAY + dt.timedelta(days=100)),
        "concentration": 100, "concentration_unit": "mg/L", "uncertainty": 2})
    assert r.status_code == 201, r.text
    bad = client.post(f"{P}/materials", headers=qa, json={
        "code": "RM-2", "kind": "standard", "name": "x", "expires_on": str(TODAY),
        "manufactured_on": str(TODAY + dt.timedelta(days=1))})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "expires_on"
    sol = client.post(f"{P}/materials/RM-1/solutions", headers=qa, json={
        "code": "WS-1", "dilution_factor": 10, "prepared_on": str(TODAY), "expires_on": str(TODAY + dt.timedelta(days=30))})
    assert sol.status_code == 201 and sol.json()["concentration"] == 10 and sol.json()["parent"] == "RM-1"
    assert client.get(f"{P}/materials/WS-1", headers=tech).json()["derivation"] == ["WS-1", "RM-1"]
    assert client.post(f"{P}/environment/locations", headers=qa, json={
        "code": "FR-1", "name": "样品冰箱", "kind": "refrigerator", "temp_min_c": 0, "temp_max_c": 4}).status_code == 201
    rec = client.post(f"{P}/environment/locations/FR-1/records", headers=tech, json={"temperature_c": 9.5})
    assert rec.status_code == 403  # a technician reads, the register is written by QA / admin
    rec = client.post(f"{P}/environment/locations/FR-1/records", headers=qa, json={"temperature_c": 9.5})
    assert rec.status_code == 201 and rec.json()["nonconformity_id"] and "9.5" in rec.json()["alarm"]
    sv = client.get(f"{P}/statistics/survey", params={"year": TODAY.year}, headers=tech)
    assert sv.status_code == 200 and sv.json()["rows"][0]["item"] == "合计 total"
    csv = client.get(f"{P}/statistics/survey.csv", params={"year": TODAY.year}, headers=tech)
    assert csv.status_code == 200 and csv.text.startswith("\ufeffsection,item,value")
    pdf = client.get(f"{P}/statistics/management-review.pdf", params={"year": TODAY.year}, headers=tech)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"{P}/statistics/survey", params={"year": 1990}, headers=tech).status_code == 422


CERTIFICATE = "%PDF-1.4\n校准证书 JZ-2026-0417 农药残留快速检测仪\n%%EOF\n".encode()


def _calibrated(client: TestClient, code: str, certificate_no: str) -> int:
    r = client.post(f"{P}/instruments/{code}/checks", headers=client.h["qa"], json={  # type: ignore[attr-defined]
        "kind": "calibration", "performed_on": str(TODAY - dt.timedelta(days=10)), "outcome": "pass",
        "certificate_no": certificate_no, "provider": "县计量所"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _registers_page(client: TestClient) -> str:
    """/quality/registers as the QA manager sees it in a browser (login form, session cookie)."""
    web = TestClient(client.app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text).group(1)  # type: ignore[union-attr]
    assert web.post("/login", data={"username": "qa", "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False).status_code == 303
    page = web.get("/quality/registers")
    assert page.status_code == 200
    return page.text


def test_a_certificate_is_kept_and_downloaded_checked_against_its_hash(client, evidence):
    qa, tech = client.h["qa"], client.h["tech"]
    check_id = _calibrated(client, "EI-01", "JZ-2026-0417")
    url = f"{P}/instruments/EI-01/checks/{check_id}/certificate"
    none = client.get(url, headers=tech)
    assert none.status_code == 404 and none.json()["detail"]["code"] == "certificate.no_file"
    up = client.post(url, headers=qa, files={"file": ("JZ-2026-0417.pdf", CERTIFICATE, "application/pdf")})
    sha = hashlib.sha256(CERTIFICATE).hexdigest()
    assert up.status_code == 200 and up.json()["certificate_sha256"] == sha
    assert (evidence / sha).read_bytes() == CERTIFICATE  # content-addressed in LIMS_EVIDENCE_DIR
    got = client.get(url, headers=tech)
    assert got.status_code == 200 and got.content == CERTIFICATE
    assert got.headers["x-content-sha256"] == sha and got.headers["content-type"] == "application/pdf"
    assert "JZ-2026-0417.pdf" in got.headers["content-disposition"]
    assert f'href="{url}"' in _registers_page(client)  # linked from the instrument's row of the registers page
    other = client.get(f"{P}/instruments/PH-01/checks/{check_id}/certificate", headers=tech)
    assert other.status_code == 404  # a check is reached through its own instrument only
    (evidence / sha).write_bytes(CERTIFICATE.replace(b"0417", b"0418"))
    altered = client.get(url, headers=tech)
    assert altered.status_code == 409 and altered.json()["detail"]["code"] == "certificate.file_altered"
    (evidence / sha).unlink()
    missing = client.get(url, headers=tech)
    assert missing.status_code == 410 and missing.json()["detail"]["code"] == "certificate.file_missing"


def test_a_certificate_recorded_with_its_check_is_kept_by_the_same_writer(db_factory, evidence):
    from lims.quality import audits
    from lims.quality import instruments as ins

    seed_reference(db_factory)
    with session_scope(db_factory, actor="qa") as s:
        row = ins.record_check(s, "EI-01", kind="calibration", performed_on=TODAY, outcome="pass", recorded_by="qa",
                               certificate_no="JZ-9", certificate=CERTIFICATE, certificate_name="JZ-9.pdf")
        ev = audits.attach_evidence(s, owner_kind="audit", owner_id=1, filename="JZ-9.pdf", data=CERTIFICATE)
        assert ev.sha256 == row.certificate_sha256 and audits.evidence_ok(ev)
        assert ins.certificate_file(s, "EI-01", row.id)[1] == CERTIFICATE
    assert [p.name for p in Path(evidence).iterdir()] == [row.certificate_sha256]  # one file, kept once
