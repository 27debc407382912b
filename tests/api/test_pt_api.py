"""PT endpoints on a real database: provider round through the API, CSV upload, the zh-CN form,
participant side, permissions; bad input gives 4xx naming the field and writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import pt as pt_api
from api.app import create_app
from api.security import iter_routes
from lims.db.engine import session_scope
from lims.db.models import Commodity, Lab, Sample
from lims.db.models_pt import Nonconformity, PtRound, PtSubmission
from lims.pt.provider import anonymous_codes
from lims.services import auth

PASSWORD = "Pt-Test-Passw0rd!"


def _app(engine):
    app = create_app(engine)
    if not any(r.path == "/api/v1/pt/rounds" for r in iter_routes(app)):
        app.include_router(pt_api.router)
    return app


@pytest.fixture
def client(db_engine, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="PROV", name="省检测中心"))
        s.flush()
        tokens = {}
        for username, role in (("qa", "qa_manager"), ("tech", "technician"), ("rev", "reviewer")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            tokens[username] = auth.create_bearer_token(s, user).token
    c = TestClient(_app(db_engine))
    c.headers_for = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}  # type: ignore[attr-defined]
    return c


def _count(factory, model) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


ROUND = {
    "scheme_code": "S1", "code": "PT-API-1", "title": "番茄中农药残留", "matrix": "番茄匀浆",
    "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).isoformat(),
    "analytes": [{"code": "chlorpyrifos", "name_zh": "毒死蜱", "mrrl": 0.01},
                 {"code": "omethoate", "name_zh": "氧乐果", "mrrl": 0.01}],
}
VALUES = [0.148, 0.156, 0.139, 0.161, 0.152, 0.145, 0.158, 0.35]


def _setup_round(client) -> list[str]:
    qa = client.headers_for["qa"]
    assert client.post("/api/v1/pt/schemes", json={"code": "S1", "name": "能力验证计划", "provider_name": "省中心"},
                       headers=qa).status_code == 201
    r = client.post("/api/v1/pt/rounds", json=ROUND, headers=qa)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and len(r.json()["analytes"]) == 2
    # issue 11: a participant's results come only from accounts bound to it; here one data-entry account
    # ("tech") is bound to every participant (isolation between participants: tests/api/test_pt_isolation.py)
    labs = [{"lab_code": f"L{i}", "lab_name": f"检测站{i}", "accounts": ["tech"]} for i in range(len(VALUES))]
    r = client.post("/api/v1/pt/rounds/PT-API-1/participants", json={"labs": labs, "seed": 99}, headers=qa)
    assert r.status_code == 201 and r.json()["seed"] == 99
    items = [[0.15 + 0.001 * i, 0.151 + 0.001 * i] for i in range(10)]
    r = client.post("/api/v1/pt/rounds/PT-API-1/homogeneity", json={"analyte": "chlorpyrifos", "items": items},
                    headers=qa)
    assert r.status_code == 200 and r.json()["g"] == 10
    assert client.post("/api/v1/pt/rounds/PT-API-1/open", headers=qa).json()["status"] == "open"
    return anonymous_codes(99, 0, len(VALUES))  # the codes are reproducible from the recorded seed


def test_provider_round_through_the_api(client, db_factory):
    codes = _setup_round(client)
    qa, tech = client.headers_for["qa"], client.headers_for["tech"]
    results = [{"participant_code": c, "analyte": "chlorpyrifos", "result": v, "unit": "mg/kg",
                "expanded_uncertainty": v / 2, "coverage_factor": 2} for c, v in zip(codes, VALUES, strict=True)]
    r = client.post("/api/v1/pt/rounds/PT-API-1/results", json={"results": results}, headers=tech)
    assert r.status_code == 200 and r.json() == {"accepted": 8, "converted": []}
    csv = "participant_code,analyte,result,unit\n" + "".join(
        f"{c},omethoate,{v},mg/kg\n" for c, v in zip(codes[:3], (0.049, 0.052, 0.05), strict=True))
    r = client.post("/api/v1/pt/rounds/PT-API-1/results.csv", files={"file": ("r.csv", csv.encode(), "text/csv")},
                    headers=tech)
    assert r.status_code == 200 and r.json() == {"accepted": 3, "converted": []}
    # a technician cannot run the round; nobody but a manager sees scores before publication
    assert client.post("/api/v1/pt/rounds/PT-API-1/close", headers=tech).status_code == 403
    assert client.post("/api/v1/pt/rounds/PT-API-1/close", headers=qa).json()["status"] == "closed"
    r = client.post("/api/v1/pt/rounds/PT-API-1/score", headers=qa)
    assert r.status_code == 200 and r.json()["scores"] == 11 and r.json()["unsatisfactory"] == 1
    assert client.get("/api/v1/pt/rounds/PT-API-1/scores", headers=tech).status_code == 403
    assert client.post("/api/v1/pt/rounds/PT-API-1/publish", headers=qa).json()["status"] == "published"
    body = client.get("/api/v1/pt/rounds/PT-API-1/scores", params={"participant_code": codes[-1]},
                      headers=tech).json()
    assert {s["analyte"] for s in body["scores"]} == {"chlorpyrifos"}
    assert body["scores"][0]["classification"] == "unsatisfactory" and "lab_name" not in body["participants"][0]
    svg = client.get("/api/v1/pt/rounds/PT-API-1/charts/chlorpyrifos/z.svg", params={"highlight": codes[0]},
                     headers=tech)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert codes[0].encode() in svg.content
    png = client.get("/api/v1/pt/rounds/PT-API-1/charts/chlorpyrifos/histogram.png", headers=tech)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = client.get(f"/api/v1/pt/rounds/PT-API-1/reports/{codes[0]}.pdf", headers=tech)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/api/v1/pt/rounds/PT-API-1/reports/summary.pdf", headers=tech).status_code == 200
    # issue 11: a participant report only for an account bound to it (an unknown code says no more)
    assert client.get("/api/v1/pt/rounds/PT-API-1/reports/P0000.pdf", headers=tech).status_code == 403
    assert client.get("/api/v1/pt/rounds/PT-API-1/reports/P0000.pdf", headers=qa).status_code == 404
    assert client.get("/api/v1/pt/rounds", headers=tech).json()["items"][0]["status"] == "published"


def test_bad_input_names_the_field_and_writes_nothing(client, db_factory):
    codes = _setup_round(client)
    qa, tech = client.headers_for["qa"], client.headers_for["tech"]
    bad = [{"participant_code": codes[0], "analyte": "chlorpyrifos", "result": 0.1, "unit": "mg/kg"},
           {"participant_code": codes[1], "analyte": "chlorpyrifos", "result": 0.1, "unit": "mg/L"}]
    r = client.post("/api/v1/pt/rounds/PT-API-1/results", json={"results": bad}, headers=tech)
    assert r.status_code == 422
    assert r.json()["detail"]["field"] == "unit" and r.json()["detail"]["problems"][0]["line"] == 2
    r = client.post("/api/v1/pt/rounds/PT-API-1/results", json={"results": [{**bad[0], "result": -1}]}, headers=tech)
    assert r.status_code == 422 and "result" in r.json()["detail"][0]["loc"]
    csv = f"participant_code,analyte,result,unit\n{codes[0]},chlorpyrifos,x,mg/kg\n{codes[1]},chlorpyrifos,0.1,\n"
    r = client.post("/api/v1/pt/rounds/PT-API-1/results.csv", files={"file": ("r.csv", csv.encode(), "text/csv")},
                    headers=tech)
    assert r.status_code == 422
    assert [(p["line"], p["field"]) for p in r.json()["detail"]["problems"]] == [(2, "result"), (3, "unit")]
    assert _count(db_factory, PtSubmission) == 0
    r = client.post("/api/v1/pt/rounds", json={**ROUND, "code": "R2", "analytes": [
        {"code": "a", "mrrl": 0.01, "assigned_method": "reference"}]}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "analytes[0].reference_value"
    r = client.post("/api/v1/pt/rounds", json={**ROUND, "code": "R3"}, headers=tech)
    assert r.status_code == 403
    assert client.post("/api/v1/pt/rounds", json=ROUND, headers=qa).status_code == 409
    assert client.get("/api/v1/pt/rounds/NOPE", headers=qa).status_code == 404
    assert client.get("/api/v1/pt/rounds").status_code == 401
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(PtRound)).scalar_one() == 1


def test_web_form_submission(client, db_factory):
    codes = _setup_round(client)
    tech = client.headers_for["tech"]
    page = client.get("/pt/rounds/PT-API-1/submit", headers=tech)
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "毒死蜱" in page.text
    form = {"participant_code": codes[0], "method": "GB 23200.113-2018", "result__chlorpyrifos": "abc",
            "loq__chlorpyrifos": "0.01"}
    r = client.post("/pt/rounds/PT-API-1/submit", data=form, headers=tech)
    assert r.status_code == 422 and "result" in r.text and _count(db_factory, PtSubmission) == 0
    form["result__chlorpyrifos"] = "0.152"
    form["result__omethoate"] = "ND"
    r = client.post("/pt/rounds/PT-API-1/submit", data=form, headers=tech)
    assert r.status_code == 200 and "已接收 2 条结果" in r.text
    with db_factory() as s:
        rows = s.execute(select(PtSubmission.result, PtSubmission.channel).order_by(PtSubmission.id)).all()
    assert [tuple(x) for x in rows] == [(0.152, "web"), (None, "web")]


def test_participant_side_through_the_api(client, db_factory):
    qa, rev = client.headers_for["qa"], client.headers_for["rev"]
    r = client.post("/api/v1/pt/participations", json={"provider_name": "某省中心", "round_code": "X-1",
                                                       "round_date": "2024-05-01", "responsible": "王"}, headers=qa)
    assert r.status_code == 201
    pid = r.json()["id"]
    r = client.post(f"/api/v1/pt/participations/{pid}/scores", json={
        "analyte": "腐霉利", "result": 0.6, "assigned_value": 0.3, "sigma_pt": 0.075}, headers=qa)
    assert r.status_code == 201 and r.json()["classification"] == "unsatisfactory"
    nc_id = r.json()["nonconformity_id"]
    assert client.get("/api/v1/pt/nonconformities", headers=rev).json()["items"][0]["id"] == nc_id
    r = client.post(f"/api/v1/pt/nonconformities/{nc_id}/advance", json={"status": "action", "note": "x"},
                    headers=qa)
    assert r.status_code == 409 and r.json()["detail"]["field"] == "status"
    r = client.post(f"/api/v1/pt/participations/{pid}/scores", json={
        "analyte": "x", "result": 0.6, "assigned_value": 0.3, "sigma_pt": 0}, headers=qa)
    assert r.status_code == 422 and "sigma_pt" in r.json()["detail"][0]["loc"]
    perf = client.get("/api/v1/pt/performance", headers=rev).json()["items"]
    assert perf[0]["az2"] == pytest.approx(16.0) and perf[0]["round_code"] == "X-1"
    with db_factory() as s:
        assert s.execute(select(func.count()).select_from(Nonconformity)).scalar_one() == 1


def test_results_in_micrograms_are_converted_over_json_and_csv(client, db_factory):
    codes = _setup_round(client)
    qa, tech = client.headers_for["qa"], client.headers_for["tech"]
    r = client.post("/api/v1/pt/rounds/PT-API-1/results", headers=tech, json={"results": [
        {"participant_code": codes[0], "analyte": "chlorpyrifos", "result": 0.152, "unit": "mg/kg"},
        {"participant_code": codes[1], "analyte": "chlorpyrifos", "result": 148, "unit": "µg/kg", "loq": 10}]})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2 and r.json()["converted"] == [{
        "line": 2, "result": 0.148, "unit": "mg/kg",
        "as_submitted": {"result": 148.0, "unit": "µg/kg", "loq": 10.0, "expanded_uncertainty": None}}]
    csv = f"participant_code,analyte,result,unit\n{codes[2]},omethoate,49,ug/kg\n"
    r = client.post("/api/v1/pt/rounds/PT-API-1/results.csv", files={"file": ("r.csv", csv.encode(), "text/csv")},
                    headers=tech)
    assert r.status_code == 200 and r.json()["converted"][0]["result"] == 0.049
    body = client.get("/api/v1/pt/rounds/PT-API-1/scores", headers=qa).json()
    mine = {(x["participant_code"], x["analyte"]): x for x in body["scores"]}
    assert mine[(codes[1], "chlorpyrifos")]["as_submitted"]["unit"] == "µg/kg"
    assert mine[(codes[2], "omethoate")]["result"] == 0.049 and mine[(codes[0], "chlorpyrifos")]["as_submitted"] is None
    r = client.post("/api/v1/pt/rounds/PT-API-1/results", headers=tech, json={"results": [
        {"participant_code": codes[3], "analyte": "chlorpyrifos", "result": 0.15, "unit": "mg/L"}]})
    assert r.status_code == 422 and r.json()["detail"]["field"] == "unit"
    assert _count(db_factory, PtSubmission) == 3


def _score(client, pid, analyte, z, headers):
    r = client.post(f"/api/v1/pt/participations/{pid}/scores", headers=headers, json={
        "analyte": analyte, "result": round(0.3 + z * 0.075, 6), "assigned_value": 0.3, "sigma_pt": 0.075})
    assert r.status_code == 201, r.text
    return r.json()


def test_participations_and_performance_chart_over_the_api(client):
    qa, rev = client.headers_for["qa"], client.headers_for["rev"]
    ids = []
    for i, z in enumerate([0.4, -1.6, 4.0]):
        r = client.post("/api/v1/pt/participations", headers=qa, json={
            "provider_name": "某省中心", "round_code": f"X-{i}", "round_date": f"202{i}-05-01", "lab_code": "PROV"})
        assert r.status_code == 201
        ids.append(r.json()["id"])
        last = _score(client, ids[-1], "腐霉利", z, qa)
    items = client.get("/api/v1/pt/participations", headers=rev).json()["items"]
    assert [p["round_code"] for p in items] == ["X-0", "X-1", "X-2"]
    assert [p["scores"][0]["z"] for p in items] == pytest.approx([0.4, -1.6, 4.0])
    one = client.get(f"/api/v1/pt/participations/{ids[2]}", headers=rev).json()
    assert one["lab_code"] == "PROV" and one["scores"][0]["classification"] == "unsatisfactory"
    assert [n["id"] for n in one["nonconformities"]] == [last["nonconformity_id"]]
    assert one["nonconformities"][0]["status"] == "open"
    r = client.get("/api/v1/pt/participations/999", headers=rev)
    assert r.status_code == 404 and r.json()["detail"]["field"] == "participation_id"
    svg = client.get("/api/v1/pt/performance/chart", params={"analyte": "腐霉利", "format": "svg"}, headers=rev)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert all(f"X-{i}".encode() in svg.content for i in range(3))
    png = client.get("/api/v1/pt/performance/chart", params={"analyte": "腐霉利", "format": "png",
                                                              "lab_code": "PROV"}, headers=rev)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = client.get("/api/v1/pt/performance/chart", params={"analyte": "毒死蜱"}, headers=rev)
    assert r.status_code == 404 and r.json()["detail"]["field"] == "analyte"
    assert client.get("/api/v1/pt/performance/chart", headers=rev).status_code == 422
    r = client.get("/api/v1/pt/performance/chart", params={"analyte": "腐霉利", "format": "pdf"}, headers=rev)
    assert r.status_code == 422 and "format" in r.json()["detail"][0]["loc"]
    assert client.get("/api/v1/pt/participations").status_code == 401


PT_SAMPLE = {"code": "PT-X-0", "commodity_code": "tomato", "sampled_at": "2024-05-06T09:00:00+08:00",
             "region_code": "370112", "sampling_link": "retail", "samplers": ["张三", "李四"]}


def test_pt_sample_registered_and_run_through_the_sample_workflow(client, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Commodity(code="tomato", name_zh="番茄", name_en="tomato"))
    qa, tech = client.headers_for["qa"], client.headers_for["tech"]
    pid = client.post("/api/v1/pt/participations", headers=qa, json={
        "provider_name": "某省中心", "round_code": "X-0", "round_date": "2024-05-01"}).json()["id"]
    url = f"/api/v1/pt/participations/{pid}/sample"
    assert client.post(url, json=PT_SAMPLE, headers=tech).status_code == 403
    r = client.post(url, json={**PT_SAMPLE, "region_code": "999999"}, headers=qa)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "region_code"
    assert _count(db_factory, Sample) == 0
    r = client.post(url, json=PT_SAMPLE, headers=qa)
    assert r.status_code == 201 and r.json() == {"participation_id": pid, "sample_code": "PT-X-0",
                                                 "status": "registered"}
    sample = client.get("/api/v1/samples/PT-X-0", headers=tech).json()
    assert sample["status"] == "registered"
    r = client.post("/api/v1/samples/PT-X-0/receive", json={"condition": "冷冻，完好"}, headers=tech)
    assert r.status_code == 200 and r.json()["status"] == "received"
    assert client.get(f"/api/v1/pt/participations/{pid}", headers=tech).json()["sample_code"] == "PT-X-0"
    r = client.post(url, json={**PT_SAMPLE, "code": "PT-X-1"}, headers=qa)
    assert r.status_code == 409 and r.json()["detail"]["field"] == "participation_id"
    assert _count(db_factory, Sample) == 1
