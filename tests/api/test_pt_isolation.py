"""PT isolation (issue 11): a participant's results come only from the accounts bound to it. Reproduced first:
a technician with pt:submit changed another participant's result in an open round. Now another participant's
code is refused (403 pt.participant_not_bound, nothing written) over JSON, CSV and the web form; a participant
sees only its own submissions until publication; the provider (pt:manage) enters results on a participant's
behalf, audited under its own name; a submission after the deadline is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Lab
from lims.db.models_pt import PtRound, PtSubmission
from lims.services import auth

PASSWORD = "Pt-Isolation-Passw0rd!"
ROUND = {"scheme_code": "S1", "code": "PT-ISO-1", "title": "番茄中农药残留",
         "deadline": (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).isoformat(),
         "analytes": [{"code": "chlorpyrifos", "name_zh": "毒死蜱", "mrrl": 0.01}]}


@pytest.fixture
def client(db_engine, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="PROV", name="省检测中心"))
        s.flush()
        hdr = {}
        for username, role in (("qa", "qa_manager"), ("tech_a", "technician"), ("tech_b", "pt_participant")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            hdr[username] = {"Authorization": f"Bearer {auth.create_bearer_token(s, user).token}"}
    c = TestClient(create_app(db_engine))
    c.hdr = hdr  # type: ignore[attr-defined]
    qa = hdr["qa"]
    assert c.post("/api/v1/pt/schemes", json={"code": "S1", "name": "计划", "provider_name": "省中心"},
                  headers=qa).status_code == 201
    assert c.post("/api/v1/pt/rounds", json=ROUND, headers=qa).status_code == 201
    r = c.post("/api/v1/pt/rounds/PT-ISO-1/participants", headers=qa, json={"seed": 7, "labs": [
        {"lab_code": "LA", "lab_name": "甲站", "accounts": ["tech_a"]},
        {"lab_code": "LB", "lab_name": "乙站", "accounts": ["tech_b"]}]})
    assert r.status_code == 201, r.text
    c.codes = {p["lab_code"]: p["code"] for p in r.json()["participants"]}  # type: ignore[attr-defined]
    assert c.post("/api/v1/pt/rounds/PT-ISO-1/open", headers=qa).json()["status"] == "open"
    return c


def _row(code: str, value: float) -> dict[str, object]:
    return {"participant_code": code, "analyte": "chlorpyrifos", "result": value, "unit": "mg/kg"}


def _results(db_factory) -> list[float | None]:
    with db_factory() as s:
        return list(s.execute(select(PtSubmission.result).order_by(PtSubmission.id)).scalars())


def test_another_participants_result_cannot_be_submitted_or_overwritten(client, db_factory):
    a, b = client.codes["LA"], client.codes["LB"]
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(a, 0.15)]},
                    headers=client.hdr["tech_a"])
    assert r.status_code == 200, r.text
    # B tries to overwrite A's result: refused, nothing written (the reproduction: this used to succeed)
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(b, 0.2), _row(a, 9.9)]},
                    headers=client.hdr["tech_b"])
    assert r.status_code == 403 and r.json()["detail"]["code"] == "pt.participant_not_bound"
    assert r.json()["detail"]["field"] == "participant_code" and "line 2" in r.json()["detail"]["message"]
    csv = f"participant_code,analyte,result,unit\n{a},chlorpyrifos,9.9,mg/kg\n"
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results.csv", files={"file": ("r.csv", csv.encode(), "text/csv")},
                    headers=client.hdr["tech_b"])
    assert r.status_code == 403
    r = client.post("/pt/rounds/PT-ISO-1/submit", headers=client.hdr["tech_b"],
                    data={"participant_code": a, "result__chlorpyrifos": "9.9"})
    assert r.status_code == 422 and "not bound to your account" in r.text
    assert _results(db_factory) == [0.15]


def test_a_participant_sees_only_its_own_results_until_publication(client):
    a, b = client.codes["LA"], client.codes["LB"]
    assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(a, 0.15)]},
                       headers=client.hdr["tech_a"]).status_code == 200
    assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(b, 0.16)]},
                       headers=client.hdr["tech_b"]).status_code == 200
    mine = client.get("/api/v1/pt/rounds/PT-ISO-1/submissions", headers=client.hdr["tech_a"]).json()["items"]
    assert [(x["participant_code"], x["result"]) for x in mine] == [(a, 0.15)]
    everyone = client.get("/api/v1/pt/rounds/PT-ISO-1/submissions", headers=client.hdr["qa"]).json()["items"]
    assert sorted(x["participant_code"] for x in everyone) == sorted([a, b])
    assert client.get("/api/v1/pt/rounds/PT-ISO-1/scores", headers=client.hdr["tech_a"]).status_code == 403


def test_the_provider_enters_a_result_on_a_participants_behalf_and_binds_accounts(client, db_factory):
    a, b = client.codes["LA"], client.codes["LB"]
    assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(b, 0.17)]},
                       headers=client.hdr["qa"]).status_code == 200
    r = client.post(f"/api/v1/pt/rounds/PT-ISO-1/participants/{b}/accounts", json={"username": "tech_a"},
                    headers=client.hdr["qa"])
    assert r.status_code == 201 and r.json()["participant_code"] == b
    assert client.post(f"/api/v1/pt/rounds/PT-ISO-1/participants/{b}/accounts", json={"username": "tech_a"},
                       headers=client.hdr["qa"]).status_code == 409
    assert client.post(f"/api/v1/pt/rounds/PT-ISO-1/participants/{a}/accounts", json={"username": "tech_b"},
                       headers=client.hdr["tech_a"]).status_code == 403  # only the provider binds
    assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(b, 0.18)]},
                       headers=client.hdr["tech_a"]).status_code == 200
    assert _results(db_factory) == [0.18]


def test_a_submission_after_the_deadline_is_refused(client, db_factory):
    with session_scope(db_factory, actor="test") as s:
        s.execute(update(PtRound).values(deadline=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    r = client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(client.codes["LA"], 0.15)]},
                    headers=client.hdr["tech_a"])
    assert r.status_code == 409 and r.json()["detail"]["field"] == "deadline"
    assert _results(db_factory) == []


def test_after_publication_a_participants_own_report_is_its_own(client):
    a, b = client.codes["LA"], client.codes["LB"]
    for who, code, value in (("tech_a", a, 0.15), ("tech_b", b, 0.16)):
        assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(code, value)]},
                           headers=client.hdr[who]).status_code == 200
    for action in ("close", "score", "publish"):
        assert client.post(f"/api/v1/pt/rounds/PT-ISO-1/{action}", headers=client.hdr["qa"]).status_code == 200
    assert client.get(f"/api/v1/pt/rounds/PT-ISO-1/reports/{a}.pdf", headers=client.hdr["tech_a"]).status_code == 200
    other = client.get(f"/api/v1/pt/rounds/PT-ISO-1/reports/{b}.pdf", headers=client.hdr["tech_a"])
    assert other.status_code == 403 and other.json()["detail"]["code"] == "pt.participant_not_bound"
    assert client.get("/api/v1/pt/rounds/PT-ISO-1/reports/summary.pdf", headers=client.hdr["tech_a"]).status_code == 200


def test_an_external_participant_account_reaches_nothing_but_pt(client):
    b = client.codes["LB"]
    ext = client.hdr["tech_b"]  # role pt_participant: an external laboratory's account
    assert client.post("/api/v1/pt/rounds/PT-ISO-1/results", json={"results": [_row(b, 0.16)]},
                       headers=ext).status_code == 200
    for path in ("/api/v1/samples", "/api/v1/results", "/api/v1/reports", "/api/v1/limits"):
        assert client.get(path, headers=ext).status_code == 403, path
