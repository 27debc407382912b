"""A method's quantitation data over REST (/api/v1/methods/{code}/…): read by any lab user, changed only by the
quality manager (methods:manage), checked (a 422 naming the field), the limits batch QC then applies (tests/lims/test_quantitation.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lims.demo import PASSWORDS, seed_reference


@pytest.fixture
def api(db_engine, db_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_REPORT_DIR", str(tmp_path / "reports"))
    from lims.config import get_settings

    get_settings.cache_clear()
    seed_reference(db_factory)
    client = TestClient(create_app(db_engine))
    tokens = {}
    for user in ("zhangwei", "wangfang"):
        r = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORDS[user]})
        tokens[user] = {"Authorization": f"Bearer {r.json()['token']}"}
    yield client, tokens
    get_settings.cache_clear()


def test_method_quantitation_data_over_rest(api):
    c, t = api
    tech, qa = t["zhangwei"], t["wangfang"]  # wangfang is approver and quality manager in the demo
    shown = c.get("/api/v1/methods/GC-OP/quantitation", headers=tech)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["calibration_strategy"] == "external_standard" and body["calibration_strategy_zh"] == "外标法"
    assert body["qc_limits"]["recovery_min_percent"] == 60.0 and body["qc_limits"]["defaults"] is False
    (study,) = body["validation"]
    assert study["commodity_code"] == "QINCAI" and study["expanded_percent"] == pytest.approx(22.83, abs=0.01)
    assert c.put("/api/v1/methods/GC-OP/qc", headers=tech, json={"recovery_min_percent": 70}).status_code == 403
    bad = c.put("/api/v1/methods/GC-OP/qc", headers=qa, json={"recovery_min_percent": 150})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "recovery_min_percent"
    ok = c.put("/api/v1/methods/GC-OP/qc", headers=qa, json={"recovery_min_percent": 70, "recovery_max_percent": 120})
    assert ok.status_code == 200 and ok.json()["qc_limits"]["recovery_max_percent"] == 120.0
    dup = c.post("/api/v1/methods/GC-OP/validation", headers=qa, json={
        "analyte_code": "CHLORPYRIFOS", "commodity_code": "QINCAI", "recovery_mean_percent": 98, "recovery_sd_percent": 4,
        "recovery_n": 6, "rsd_rw_percent": 8, "reference": "MV-2"})
    assert dup.status_code == 422 and dup.json()["detail"]["field"] == "commodity_code"
    new = c.post("/api/v1/methods/GC-OP/validation", headers=qa, json={
        "analyte_code": "CHLORPYRIFOS", "recovery_mean_percent": 98, "recovery_sd_percent": 4, "recovery_n": 6,
        "rsd_rw_percent": 8, "reference": "MV-GC-OP-ALL"})
    assert new.status_code == 201, new.text
    assert [v["commodity_code"] for v in new.json()["validation"]] == ["QINCAI", None]
