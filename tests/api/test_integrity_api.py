"""Issue 11 over REST: no second result for an analysis that has a standing or certified one (quantify,
manual entry, a new batch: 409 result.already_current, corrections by amendment only), and a report PDF
replaced on disk is refused at download (409 report.file_altered) and named by the verifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from lims.db.models import Result
from lims.db.verify import verify_database
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


def _certified_and_reported(c, t) -> tuple[int, int, dict]:
    """One confirmatory analysis quantified in a QC-passed batch, signed three times and reported."""
    tech, rev, appr = t["zhangwei"], t["liqiang"], t["wangfang"]
    _ok(c.post("/api/v1/tasks", headers=appr, json={
        "code": "T-INT", "name": "芹菜专项", "programme_type": "special", "issuing_authority": "某县农业农村局",
        "required_analytes": ["CHLORPYRIFOS"]}), 201)
    sample = _ok(c.post("/api/v1/samples", headers=tech, json={
        "code": "S-INT-1", "commodity_code": "QINCAI", "task_code": "T-INT",
        "sampled_at": dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(),
        "sampling_place": "城关镇", "region_code": "511521", "sampling_link": "before_harvest",
        "samplers": ["赵磊", "孙敏"], "requested": [["CHLORPYRIFOS", "GC-OP"]]}), 201)
    aid = sample["analyses"][0]["id"]
    _ok(c.post("/api/v1/samples/S-INT-1/receive", headers=tech, json={"condition": "完好", "storage": "A2"}))
    _ok(c.post("/api/v1/batches", headers=tech, json={"code": "B-INT-1", "method_code": "GC-OP",
                                                     "analysis_ids": [aid]}), 201)
    curve = _ok(c.post("/api/v1/batches/B-INT-1/curves", headers=tech, json={
        "analyte_code": "CHLORPYRIFOS", "concentrations": LEVELS,
        "responses": [35 + 10500 * x * (1 + 0.004 * (-1) ** i) for i, x in enumerate(LEVELS)]}), 201)
    for qc in ({"kind": "reagent_blank", "measured_value": 0.0, "reporting_limit": 0.01},
               {"kind": "spike", "nominal_value": 0.1, "measured_value": 0.093},
               {"kind": "ccv", "nominal_value": 0.1, "measured_value": 0.102}):
        _ok(c.post("/api/v1/batches/B-INT-1/qc", headers=tech, json=qc), 201)
    assert _ok(c.post("/api/v1/batches/B-INT-1/evaluate", headers=tech))["passed"]
    quantify = {"curve_id": curve["id"], "response": 35 + 10500 * 0.03, "sample_mass_g": 5, "extract_volume_ml": 10}
    rid = _ok(c.post(f"/api/v1/analyses/{aid}/quantify", headers=tech, json=quantify), 201)["id"]
    _ok(c.post("/api/v1/results/author", headers=tech, json={"result_ids": [rid], "password": PASSWORDS["zhangwei"]}))
    _ok(c.post("/api/v1/results/review", headers=rev, json={"result_ids": [rid], "password": PASSWORDS["liqiang"]}))
    _ok(c.post("/api/v1/results/approve", headers=appr, json={"result_ids": [rid], "password": PASSWORDS["wangfang"]}))
    report = _ok(c.post("/api/v1/reports", headers=appr, json={"sample_code": "S-INT-1"}), 201)
    return aid, rid, {"quantify": quantify, "report": report}


def test_no_second_result_for_a_certified_analysis(api):
    c, t, factory = api
    aid, rid, ctx = _certified_and_reported(c, t)
    tech = t["zhangwei"]
    attempts = [
        c.post(f"/api/v1/analyses/{aid}/quantify", headers=tech, json=ctx["quantify"]),
        c.post(f"/api/v1/analyses/{aid}/manual-result", headers=tech,
               json={"value_text": "0.01", "value": 0.01, "unit": "mg/kg", "reason": "数据系统离线，按谱图录入"}),
        c.post("/api/v1/batches", headers=tech, json={"code": "B-INT-2", "method_code": "GC-OP",
                                                     "analysis_ids": [aid]}),
    ]
    for r in attempts:
        assert r.status_code == 409, r.text
        assert r.json()["detail"]["code"] == "result.already_current"
    with factory() as s:
        assert s.execute(select(func.count()).where(Result.analysis_id == aid)).scalar_one() == 1
    # the way that stays open: an amendment, a new version naming the one it supersedes
    amended = c.post(f"/api/v1/results/{rid}/amend", headers=tech,
                     json={"value": 0.07, "value_text": "0.07", "reason": "称样量录入错误，更正"})
    assert amended.status_code in (200, 201), amended.text


def test_a_replaced_report_pdf_is_refused_and_named_by_verify(api):
    c, t, factory = api
    _aid, _rid, ctx = _certified_and_reported(c, t)
    report = ctx["report"]
    url = f"/api/v1/reports/{report['report_no']}/pdf"
    assert c.get(url, headers=t["zhangwei"]).status_code == 200
    with factory() as s:
        assert verify_database(s).ok
        path = Path(_report_path(s, report["report_no"]))
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOF\n% replaced"))
    refused = c.get(url, headers=t["zhangwei"])
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "report.file_altered"
    with factory() as s:
        check = verify_database(s)
    assert not check.ok and report["report_no"] in check.message and "differs" in check.message


def _report_path(s, report_no: str) -> str:
    from lims.db.models import Report

    return s.execute(select(Report.path).where(Report.report_no == report_no)).scalar_one()
