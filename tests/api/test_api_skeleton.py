"""The web app on a real database: /api/v1 samples and results, the zh-CN page, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from lims.demo import register_samples, seed_reference


def test_samples_results_page_and_openapi(db_engine, db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    client = TestClient(create_app(db_engine))
    r = client.get("/api/v1/samples", params={"limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 6 and len(body["items"]) == 2
    assert body["items"][0]["commodity"] in {"番茄", "豇豆"}
    r = client.get("/api/v1/samples", params={"status": "reported"})
    assert r.json()["total"] == 0
    assert client.get("/api/v1/results").json()["total"] == 0
    page = client.get("/")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "样品" in page.text
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/samples", "/api/v1/results"} <= set(spec["paths"])
    assert client.get("/verify/NOPE").status_code == 404
    assert client.get("/api/v1/samples", params={"limit": 0}).status_code == 422
