"""The lab day over REST, with the users' own tokens: task, plan, sample, receipt, batch, curve,
QC, quantitation, signatures, report, verification; and bad input on every write endpoint
(a 4xx naming the field, nothing written)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from lims.db.models import AuditEvent
from lims.demo import PASSWORDS, seed_reference

LEVELS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]


@pytest.fixture
def api(db_engine, db_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    from lims.config import get_settings

    get_settings.cache_clear()
    seed_reference(db_factory)
    client = TestClient(create_app(db_engine))
    tokens = {}
    for user in ("zhangwei", "liqiang", "wangfang"):
        r = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORDS[user]})
        tokens[user] = {"Authorization": f"Bearer {r.json()['token']}"}
    yield client, tokens, db_factory
    get_settings.cache_clear()


def _ok(r, code=200):
    assert r.status_code == code, r.text
    return r.json()


def test_lab_day_over_rest(api):
    c, t, _ = api
    tech, rev, appr = t["zhangwei"], t["liqiang"], t["wangfang"]
    _ok(c.post("/api/v1/tasks", headers=t["wangfang"], json={
        "code": "T-API", "name": "芹菜专项", "programme_type": "special", "issuing_authority": "某县农业农村局",
        "required_analytes": ["CHLORPYRIFOS"]}), 201)
    plan = _ok(c.post("/api/v1/tasks/T-API/plan", headers=appr, json={"producers": 3, "seed": 7}), 201)
    assert plan["seed"] == 7 and len(plan["lines"]) == 3
    first = _ok(c.get("/api/v1/tasks/T-API/plan", headers=tech))["lines"][0]
    sample = _ok(c.post("/api/v1/samples", headers=tech, json={
        "code": "S-API-1", "commodity_code": "QINCAI", "task_code": "T-API", "assignment_id": first["id"],
        "sampled_at": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(),
        "sampling_place": "城关镇", "region_code": "511521", "sampling_link": "before_harvest",
        "samplers": ["赵磊", "孙敏"], "requested": [["CHLORPYRIFOS", "GC-OP"]]}), 201)
    analysis_id = sample["analyses"][0]["id"]
    _ok(c.post("/api/v1/samples/S-API-1/receive", headers=tech, json={"condition": "完好", "storage": "A2"}))
    _ok(c.post("/api/v1/batches", headers=tech, json={"code": "B1", "method_code": "GC-OP",
                                                     "analysis_ids": [analysis_id]}), 201)
    curve = _ok(c.post("/api/v1/batches/B1/curves", headers=tech, json={
        "analyte_code": "CHLORPYRIFOS", "concentrations": LEVELS,
        "responses": [35 + 10500 * x * (1 + 0.004 * (-1) ** i) for i, x in enumerate(LEVELS)]}), 201)
    assert curve["passed"]
    for qc in ({"kind": "reagent_blank", "measured_value": 0.0, "reporting_limit": 0.01},
               {"kind": "spike", "nominal_value": 0.1, "measured_value": 0.093},
               {"kind": "ccv", "nominal_value": 0.1, "measured_value": 0.102}):
        assert _ok(c.post("/api/v1/batches/B1/qc", headers=tech, json=qc), 201)["outcome"] == "pass"
    assert _ok(c.post("/api/v1/batches/B1/evaluate", headers=tech))["passed"]
    res = _ok(c.post(f"/api/v1/analyses/{analysis_id}/quantify", headers=tech, json={
        "curve_id": curve["id"], "response": 35 + 10500 * 0.03, "sample_mass_g": 5, "extract_volume_ml": 10}), 201)
    assert res["value_text"] == "0.060" or res["value"] == pytest.approx(0.06, abs=0.002)
    assert res["verdict"] == "non_compliant"
    rid = res["id"]
    _ok(c.post("/api/v1/results/author", headers=tech, json={"result_ids": [rid], "password": PASSWORDS["zhangwei"]}))
    # technicians hold no review permission; a wrong password is refused and names the field
    assert c.post("/api/v1/results/review", headers=tech, json={"result_ids": [rid], "password": "x"}).status_code == 403
    bad = c.post("/api/v1/results/review", headers=rev, json={"result_ids": [rid], "password": "wrong-password"})
    assert bad.status_code == 403 and bad.json()["detail"]["field"] == "password"
    assert bad.json()["detail"]["code"] == "auth.wrong_password"  # the stable code clients branch on
    _ok(c.post("/api/v1/results/review", headers=rev, json={"result_ids": [rid], "password": PASSWORDS["liqiang"]}))
    signed = _ok(c.post("/api/v1/results/approve", headers=appr,
                        json={"result_ids": [rid], "password": PASSWORDS["wangfang"]}))
    assert signed["signatures"][0]["printed_name"] == "王芳" and "+08:00" in signed["signatures"][0]["signed_at"]
    report = _ok(c.post("/api/v1/reports", headers=appr, json={"sample_code": "S-API-1"}), 201)
    pdf = c.get(f"/api/v1/reports/{report['report_no']}/pdf", headers=tech)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    verify = _ok(c.get(f"/verify/{report['report_no']}", params={"sha256": report["content_hash"]},
                       headers={"Accept": "application/json"}))  # JSON when asked (issue 12), number + hash (issue 11)
    assert verify["content_hash"] == report["content_hash"] and verify["current"] is True
    assert verify["supersedes"] is None and verify["superseded_by"] is None
    detail = _ok(c.get(f"/api/v1/results/{rid}", headers=tech))
    assert [g["meaning"].split(" / ")[0] for g in detail["signatures"]] == ["检验", "审核", "批准"]


BAD_WRITES = [
    ("/api/v1/tasks", {"code": "T", "name": "n", "programme_type": "weekly", "issuing_authority": "a"},
     "wangfang", "programme_type"),
    ("/api/v1/tasks/NOPE/plan", {"producers": 2}, "wangfang", "task_code"),
    ("/api/v1/producers", {"name": "x", "credit_code": "91110000802100433C", "kind": "enterprise",
                           "region_code": "511521"}, "wangfang", "credit_code"),
    ("/api/v1/samples", {"code": "S-1", "commodity_code": "QINCAI", "sampled_at": "2026-11-28T08:00:00+08:00",
                         "sampling_place": "x", "region_code": "99", "sampling_link": "retail",
                         "samplers": ["a", "b"]}, "zhangwei", "region_code"),
    ("/api/v1/samples", {"code": "S 1"}, "zhangwei", "code"),
    ("/api/v1/samples/NOPE/receive", {"condition": "ok"}, "zhangwei", "code"),
    ("/api/v1/samples/NOPE/custody", {"kind": "eaten"}, "zhangwei", "kind"),
    ("/api/v1/batches", {"code": "B", "method_code": "NOPE", "analysis_ids": [1]}, "zhangwei", "method_code"),
    ("/api/v1/batches/NOPE/curves", {"analyte_code": "X", "concentrations": [1, 2], "responses": [1]},
     "zhangwei", "responses"),
    ("/api/v1/batches/NOPE/qc", {"kind": "magic"}, "zhangwei", "kind"),
    ("/api/v1/analyses/999/quantify", {"curve_id": 1, "response": 1, "sample_mass_g": 0, "extract_volume_ml": 1},
     "zhangwei", "sample_mass_g"),
    ("/api/v1/analyses/999/manual-result", {"value_text": "1", "unit": "mg/kg", "reason": "typo"},
     "zhangwei", "reason"),
    ("/api/v1/results/author", {"result_ids": [], "password": "x"}, "zhangwei", "result_ids"),
    ("/api/v1/results/999/amend", {"value_text": "1", "reason": "because"}, "zhangwei", "result_id"),
    ("/api/v1/limits/import", {"csv_text": "commodity_zh,analyte_zh\n芹菜,毒死蜱\n"}, "wangfang", "csv_text"),
    ("/api/v1/reports", {"sample_code": "NOPE"}, "wangfang", "sample_code"),
]


@pytest.mark.parametrize("path,body,user,field", BAD_WRITES, ids=[f"{p}:{f}" for p, _b, _u, f in BAD_WRITES])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(api, path, body, user, field):
    c, t, factory = api
    with factory() as s:
        before = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    r = c.post(path, headers=t[user], json=body)
    assert 400 <= r.status_code < 500, r.text
    detail = r.json()["detail"]
    named = ([d["loc"][-1] for d in detail] if isinstance(detail, list) else [detail.get("field")]
             + [p.get("field") for p in detail.get("problems", [])])
    assert field in [str(n) for n in named], detail
    with factory() as s:
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before
