"""The web app on a real database: /api/v1 samples and results, the zh-CN page, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from lims.demo import PASSWORDS, register_samples, seed_reference


def _login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORDS[username]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_samples_results_page_and_openapi(db_engine, db_factory):
    seed_reference(db_factory)
    register_samples(db_factory)
    client = TestClient(create_app(db_engine))
    assert client.get("/api/v1/samples").status_code == 401
    h = _login(client, "zhangwei")
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
