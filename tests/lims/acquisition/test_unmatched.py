"""Unmatched readings (issue 13): an enzyme-tester reading whose sample ID is unknown (here a 52.1 %
inhibition screening positive) was visible nowhere. Now it is in the queue (`GET /api/v1/instruments/
unmatched`), and a person assigns it to a sample's screening analysis (the result is made through the
screening path, audited) or dismisses it with a reason; a second result of an analysis is refused (409,
results_guard). Lines come from the simulator's own encoder (hardware_sim.enzyme); ΔA values are chosen so
that inhibition = (ΔA_control − ΔA_sample) / ΔA_control (GB/T 5009.199-2003): control ΔA 0.45, the unknown
sample's ΔA 0.2156 → 52.09 %."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from hardware_sim.enzyme import ChannelReading, run_lines
from sqlalchemy import select

from api.app import create_app
from lims.db.engine import session_scope
from lims.db.models import Analysis, AuditEvent, Reading, Result, Sample
from lims.demo import register_samples, seed_reference
from lims.services import auth
from lims.services.screening import results_from_readings

pytestmark = pytest.mark.db
PASSWORD = "Unmatched-Test-Passw0rd!"
WHEN = datetime(2026, 12, 6, 9, 30, 0)
KNOWN = "S20261128-001"  # a registered demo sample (its screening analysis gets a result from the run)
OPEN = "S20261128-002"  # a registered demo sample not on the run (its screening analysis stays open)


@pytest.fixture
def lab(db_engine, db_factory, make_runner, recording_link):
    seed_reference(db_factory)
    register_samples(db_factory)
    runner = make_runner("EI-UM", "enzyme_ascii_16ch", recording_link())
    runner.on_bytes(b"".join(run_lines(1, WHEN, [
        ChannelReading(0, "CONTROL", 0.35, 0.80, 0.0),
        ChannelReading(1, KNOWN, 0.40, 0.80, 11.1),
        ChannelReading(2, "X-UNKNOWN-1", 0.40, 0.6156, 52.1),
        ChannelReading(3, "X-UNKNOWN-2", 0.40, 0.75, 22.2),
        ChannelReading(4, "X-UNKNOWN-3", 0.40, 0.70, 33.3)])), 0.0)
    with db_factory() as s:
        ids = list(s.execute(select(Reading.id).order_by(Reading.id)).scalars())
    with session_scope(db_factory, actor="zhangwei") as s:
        outcome = results_from_readings(s, ids)
        assert len(outcome.results) == 1 and len(outcome.unmatched_readings) == 3
        tokens = {}
        for username, role in (("tech", "technician"), ("reviewer", "reviewer")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            tokens[username] = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    c.h = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}  # type: ignore[attr-defined]
    return c


def _reading(db_factory, sample_code: str) -> int:
    with db_factory() as s:
        return int(s.execute(select(Reading.id).where(Reading.sample_code == sample_code)).scalar_one())


def _screening(db_factory, sample_code: str) -> int:
    with db_factory() as s:
        return int(s.execute(select(Analysis.id).join(Sample).where(
            Sample.code == sample_code, Analysis.kind == "screening").order_by(Analysis.id)).scalars().first())


def _queue(client, path: str = "/api/v1/instruments/unmatched") -> dict:
    r = client.get(path, headers=client.h["tech"])
    assert r.status_code == 200, r.text
    return r.json()


def test_unknown_sample_reading_is_queued_then_assigned_with_result_and_audit(lab, db_factory):
    positive = _reading(db_factory, "X-UNKNOWN-1")
    queue = _queue(lab)
    assert queue["total"] == 3 and {r["sample_code"] for r in queue["readings"]} == {
        "X-UNKNOWN-1", "X-UNKNOWN-2", "X-UNKNOWN-3"}  # not the control, not the matched channel
    assert _queue(lab, "/api/v1/instruments/EI-UM/readings/unmatched")["total"] == 3
    analysis_id = _screening(db_factory, OPEN)
    r = lab.post(f"/api/v1/readings/{positive}/assign", json={"analysis_id": analysis_id,
                                                               "reason": "样品编号录错，应为 " + OPEN},
                 headers=lab.h["tech"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "assigned" and body["analysis_id"] == analysis_id
    with db_factory() as s:
        result = s.get(Result, body["result_id"])
        assert result.reading_id == positive and result.analysis_id == analysis_id
        assert result.qualitative == "positive" and abs(result.inhibition_percent - 52.09) < 0.01
        assert s.get(Analysis, analysis_id).status == "to_be_reviewed"
        confirm = s.execute(select(Analysis).where(Analysis.requested_by_analysis_id == analysis_id)).scalars().all()
        assert confirm  # a positive screen requests confirmation, as on the automatic path
        events = s.execute(select(AuditEvent).where(AuditEvent.actor == "tech")).scalars().all()
        assert {"reading_disposition", "result"} <= {e.table_name for e in events}
        assert str(result.id) in {e.record_id for e in events if e.table_name == "result"}
    assert {x["id"] for x in _queue(lab)["readings"]} == {_reading(db_factory, "X-UNKNOWN-2"),
                                                          _reading(db_factory, "X-UNKNOWN-3")}
    again = lab.post(f"/api/v1/readings/{positive}/assign", json={"analysis_id": analysis_id, "reason": "again"},
                     headers=lab.h["tech"])
    assert again.status_code == 409 and again.json()["detail"]["code"] == "reading.already_disposed"


def test_assign_to_an_analysis_with_a_current_result_is_refused(lab, db_factory):
    reading = _reading(db_factory, "X-UNKNOWN-2")
    r = lab.post(f"/api/v1/readings/{reading}/assign",
                 json={"analysis_id": _screening(db_factory, KNOWN), "reason": "wrong"}, headers=lab.h["tech"])
    assert r.status_code == 409 and r.json()["detail"]["code"] == "result.already_current"
    assert reading in {x["id"] for x in _queue(lab)["readings"]}  # nothing written


def test_dismiss_with_reason_removes_it_and_is_audited(lab, db_factory):
    reading = _reading(db_factory, "X-UNKNOWN-3")
    blank = lab.post(f"/api/v1/readings/{reading}/dismiss", json={"reason": "  "}, headers=lab.h["tech"])
    assert blank.status_code == 422
    r = lab.post(f"/api/v1/readings/{reading}/dismiss", json={"reason": "质控样，非送检样品"}, headers=lab.h["tech"])
    assert r.status_code == 200 and r.json()["action"] == "dismissed"
    assert reading not in {x["id"] for x in _queue(lab)["readings"]}
    with db_factory() as s:
        (event,) = s.execute(select(AuditEvent).where(AuditEvent.table_name == "reading_disposition")).scalars()
        assert event.actor == "tech" and "质控样" in (event.reason or "")


def test_permissions(lab, db_factory):
    reading = _reading(db_factory, "X-UNKNOWN-3")
    assert lab.get("/api/v1/instruments/unmatched").status_code == 401
    assert lab.post(f"/api/v1/readings/{reading}/dismiss", json={"reason": "x"}).status_code == 401
    assert lab.get("/api/v1/instruments/unmatched", headers=lab.h["reviewer"]).status_code == 200
    for action, body in (("dismiss", {"reason": "x"}), ("assign", {"analysis_id": 1, "reason": "x"})):
        r = lab.post(f"/api/v1/readings/{reading}/{action}", json=body, headers=lab.h["reviewer"])
        assert r.status_code == 403, (action, r.text)
    assert lab.get("/api/v1/instruments/NOPE/readings/unmatched", headers=lab.h["tech"]).status_code == 404


def test_instruments_page_shows_the_unmatched_count_and_list(lab, db_factory):
    from lims.demo import PASSWORDS

    def csrf_of(html: str) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found, "the page carries no CSRF token"
        return found.group(1)

    web = TestClient(lab.app)
    r = web.post("/login", data={"username": "wangfang", "password": PASSWORDS["wangfang"],
                                 "csrf_token": csrf_of(web.get("/login").text)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = web.get("/instruments/EI-UM").text  # the instrument console (api/ui/instruments.py)
    unmatched = page.split('id="unmatched"')[1].split("</h2>")[0]
    assert "待匹配读数" in unmatched and ">3 —" in unmatched.replace("</small>", "")
    section = page.split('id="unmatched"')[1].split("<h2")[0]
    assert "X-UNKNOWN-1" in section and "S20261128-001" not in section  # the matched channel is not listed
