"""/api/v1/quality: the NC → containment → CAPA → effectiveness → close path over HTTP, audits with a finding,
evidence size limit, QC run rejection, and who may do what (quality:read / quality:raise / quality:manage).
Every route is also in tests/api/test_permissions.py's matrix (routes are discovered from the app)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Lab
from lims.quality import audits
from lims.services import auth

pytestmark = pytest.mark.db
PASSWORD = "Quality-Test-Passw0rd!"
P = "/api/v1/quality"


@pytest.fixture
def client(db_engine, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="LAB", name="县检测站"))
        s.flush()
        tokens = {}
        for username, role in (("qa", "qa_manager"), ("tech", "technician"), ("admin", "admin")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            tokens[username] = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    c.h = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}  # type: ignore[attr-defined]
    return c


def test_nc_path_over_http(client):
    qa, tech = client.h["qa"], client.h["tech"]
    today = dt.date.today()
    r = client.post(f"{P}/nonconformities", json={"description": "离心机转速未校准", "risk": "high",
                                                  "links": [["instrument", "CF-01"]]}, headers=tech)
    assert r.status_code == 201, r.text
    nc = r.json()
    assert (nc["raised_by"], nc["status"], nc["status_label"]) == ("tech", "open", "已登记")
    base = f"{P}/nonconformities/{nc['id']}"
    assert client.post(f"{base}/root-cause", json={"root_cause": "x"}, headers=tech).status_code == 403
    steps = [
        ("containment", {"containment": "stop_work", "kind": "instrument", "ref": "CF-01", "note": "停用"}),
        ("root-cause", {"root_cause": "校准计划漏列"}),
        ("actions", {"description": "补列校准计划", "owner": "qa", "due_date": today.isoformat()}),
    ]
    for step, body in steps:
        r = client.post(f"{base}/{step}", json=body, headers=qa)
        assert r.status_code == 200, (step, r.text)
    r = client.post(f"{base}/close", json={}, headers=qa)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "workflow.illegal_transition"
    action_id = r_action = client.get(base, headers=tech).json()["actions"][0]["id"]
    assert r_action
    for step, body in ((f"actions/{action_id}/done", {"note": "已补列"}), ("implemented", None),
                       ("verification", {"verification": "复查有效"}), ("close", {"note": "关闭"})):
        r = client.post(f"{base}/{step}", json=body, headers=qa)
        assert r.status_code == 200, (step, r.text)
    done = r.json()
    assert done["status"] == "closed" and done["links"][-1]["lifted_at"] is not None
    assert [n["id"] for n in client.get(f"{P}/nonconformities?status=closed", headers=tech).json()["items"]] == [nc["id"]]


def test_bad_input_is_a_clear_error(client):
    qa = client.h["qa"]
    r = client.post(f"{P}/audits", json={"code": "A1", "kind": "internal", "start_date": "2026-05-02",
                                         "end_date": "2026-05-01", "clauses": ["17025:7.10"]}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "quality.dates_out_of_order"
    r = client.post(f"{P}/audits", json={"code": "A1", "kind": "internal", "start_date": "2026-05-01",
                                         "end_date": "2026-05-01", "clauses": ["17025:12.1"]}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "quality.unknown_clause"
    r = client.post(f"{P}/nonconformities", json={"description": "x", "due_date": "2001-01-01"}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "due_date"


def test_audit_finding_evidence_and_size_limit(client, monkeypatch, tmp_path):
    qa = client.h["qa"]
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    from lims.config import get_settings
    get_settings.cache_clear()
    r = client.post(f"{P}/programmes", json={"year": 2026, "audits": 2}, headers=qa)
    assert r.status_code == 201 and r.json()["coverage"]["missing"] == []
    assert client.get(f"{P}/audits/IA-2026-01/checklist", headers=client.h["tech"]).json()["items"]
    r = client.post(f"{P}/audits", json={"code": "CMA-1", "kind": "external", "start_date": "2026-06-01",
                                         "end_date": "2026-06-02", "clauses": ["RBT214:4.5.12"]}, headers=qa)
    assert r.status_code == 201, r.text
    client.post(f"{P}/audits/CMA-1/start", headers=qa)
    r = client.post(f"{P}/audits/CMA-1/findings", json={"clause_id": "RBT214:4.5.12", "grade": "minor",
                                                         "description": "内审未覆盖抽样条款"}, headers=qa)
    finding = r.json()["findings"][0]
    assert finding["nonconformity_id"] and finding["grade_label"] == "一般不符合"
    r = client.post(f"{P}/evidence/finding/{finding['id']}", files={"file": ("记录.pdf", b"%PDF-1.4 x")}, headers=qa)
    assert r.status_code == 201 and len(r.json()["sha256"]) == 64
    monkeypatch.setattr(audits, "MAX_EVIDENCE_BYTES", 4)
    r = client.post(f"{P}/evidence/finding/{finding['id']}", files={"file": ("big.pdf", b"0123456789")}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["code"] == "quality.file_too_large"


def test_qc_run_rejection_and_chart(client):
    qa, tech = client.h["qa"], client.h["tech"]
    key = {"material": "QC-A", "analyte": "毒死蜱", "instrument": "GC-01"}
    for level, mean, sd in (("L1", 1.0, 0.1), ("L2", 5.0, 0.5)):
        r = client.post(f"{P}/qc/targets", json={**key, "level": level, "mean": mean, "sd": sd}, headers=qa)
        assert r.status_code == 200, r.text
    r = client.post(f"{P}/qc/runs", json={**key, "code": "R1", "values": [{"level": "L1", "value": 1.35},
                                                                        {"level": "L2", "value": 5.1}]}, headers=tech)
    assert r.status_code == 201 and r.json()["rejections"] == ["1-3s"] and r.json()["nonconformity_id"]
    r = client.get(f"{P}/qc/chart", params={**key, "level": "L1"}, headers=tech)
    assert r.json()["points"][0]["z"] == pytest.approx(3.5)
    r = client.get(f"{P}/qc/chart.svg", params={**key, "level": "L1"}, headers=tech)
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert client.put(f"{P}/qc/methods/M1/rules", json={"rules": "1-3s"}, headers=tech).status_code == 403


def test_admin_without_quality_role_cannot_read(client):
    assert client.get(f"{P}/nonconformities", headers=client.h["admin"]).status_code == 403
