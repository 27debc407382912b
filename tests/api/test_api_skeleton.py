"""The web app on a real database: /api/v1 samples and results, the zh-CN page, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from lims.demo import register_samples, seed_reference


def test_samples_results_page_and_openapi(db_engine, db_factory, login):
    seed_reference(db_factory)
    register_samples(db_factory)
    client = TestClient(create_app(db_engine))
    assert client.get("/api/v1/samples").status_code == 401
    h = login(client, "zhangwei")
    r = client.get("/api/v1/samples", params={"limit": 2}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 6 and len(body["items"]) == 2
    assert body["items"][0]["commodity"] in {"番茄", "豇豆"}
    r = client.get("/api/v1/samples", params={"status": "reported"}, headers=h)
    assert r.json()["total"] == 0
    assert client.get("/api/v1/results", headers=h).json()["total"] == 0
    assert client.get("/", follow_redirects=False).status_code in (303, 307)
    form = client.get("/login")
    assert form.status_code == 200 and 'lang="zh-CN"' in form.text
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/samples", "/api/v1/results"} <= set(spec["paths"])
    assert client.get("/verify/NOPE").status_code == 404
    assert client.get("/api/v1/samples", params={"limit": 0}, headers=h).status_code == 422
