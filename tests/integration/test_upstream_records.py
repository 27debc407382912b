"""The upstream record end to end on the test database (SQLite, or PostgreSQL with LIMS_TEST_DATABASE):
certification, amendment and audit checkpoints queue schema-valid messages in their own transaction (one per
sample, results in order, batched), the real hub on loopback receives them in order, and the REST API shows
each result's delivery state, lists messages, re-queues dead letters (QA manager, audited) and serves the
JSON Schemas."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import (
    Analysis,
    AuditEvent,
    HubReceipt,
    Instrument,
    OutboxItem,
    OutboxMessage,
    RawCapture,
    Reading,
    Result,
)
from lims.demo import PASSWORDS, register_samples, seed_reference
from lims.demo.loopback import LoopbackHub
from lims.services import signoff
from lims.services.hub import register_lab_key
from lims.upstream import schema as w
from lims.upstream.delivery import Worker
from lims.upstream.signing import load_or_create_key, public_key_pem

LAB = "LAB"


@pytest.fixture
def key(tmp_path, monkeypatch):
    """The lab key, also LIMS_UPSTREAM_KEY: sign-offs then queue signed audit checkpoints (lims/db/anchors.py)."""
    path = tmp_path / "keys" / "lab.pem"
    k = load_or_create_key(path)
    monkeypatch.setenv("LIMS_UPSTREAM_KEY", str(path))
    monkeypatch.setenv("LIMS_ANCHOR_LOG", str(tmp_path / "anchors.log"))
    get_settings.cache_clear()
    yield k
    get_settings.cache_clear()


@pytest.fixture
def hub(tmp_path, key):
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as h:
        with session_scope(h.factory, actor="hub:admin") as s:
            register_lab_key(s, LAB, public_key_pem(key))
        yield h


def _results(factory, per_sample: list[int]) -> list[int]:
    """Screening results of the demo reference data: per_sample[i] results on the i-th demo sample."""
    seed_reference(factory)
    register_samples(factory)
    ids = []
    with session_scope(factory, actor="zhangwei") as s:
        inst = s.execute(select(Instrument).where(Instrument.code == "EI-01")).scalar_one()
        firsts = list(s.execute(select(Analysis).order_by(Analysis.id)).scalars())
        for first, n in zip(firsts, per_sample, strict=False):
            for i in range(n):
                a = first if i == 0 else Analysis(sample_id=first.sample_id, method_id=first.method_id,
                                                  analyte_id=first.analyte_id, kind="screening",
                                                  status="in_analysis")
                s.add(a)
                cap = RawCapture(instrument_id=inst.id, data=b"x", sha256=f"{len(ids):064d}", profile="p")
                s.add(cap)
                s.flush()
                rd = Reading(raw_capture_id=cap.id, instrument_id=inst.id, record_type="CH", channel=1,
                             sample_code=first.sample.code, fields={})
                s.add(rd)
                s.flush()
                r = Result(analysis_id=a.id, value=12.5 + i, value_text=f"{12.5 + i}% 阴性", unit="%",
                           reading_id=rd.id, source="instrument")
                s.add(r)
                s.flush()
                ids.append(r.id)
    return ids


def _sign(factory, ids: list[int]) -> None:
    for who, fn in (("zhangwei", signoff.author_results), ("liqiang", signoff.review_results)):
        with session_scope(factory, actor=who) as s:
            fn(s, ids, username=who, password=PASSWORDS[who])
    with session_scope(factory, actor="wangfang") as s:
        signoff.approve_results(s, ids, username="wangfang", password=PASSWORDS["wangfang"], lab_code=LAB)


def _messages(factory, kind: str | None = None) -> list[OutboxMessage]:
    with factory() as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        return list(s.execute(q.where(OutboxMessage.kind == kind) if kind else q).scalars())


def _token(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORDS[user]})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_one_message_per_sample_in_order_batched_at_the_limit(db_factory, key, monkeypatch):
    monkeypatch.setattr(w, "MAX_RESULTS_PER_MESSAGE", 2)  # the split, without 101 results
    ids = _results(db_factory, [3, 1])
    _sign(db_factory, ids)  # one approval of four results of two samples
    msgs = _messages(db_factory, "result")
    carried = [[i["resultId"] for i in json.loads(m.payload)["results"]] for m in msgs]
    assert carried == [ids[0:2], ids[2:3], ids[3:4]]
    assert [m.idempotency_key for m in msgs] == [f"{LAB}:result:{c[0]}" for c in carried]
    with db_factory() as s:
        items = s.execute(select(OutboxItem.message_id, OutboxItem.result_id).order_by(OutboxItem.result_id)).all()
    assert [r for _, r in items] == ids
    for m in msgs:
        doc = w.validate_message(json.loads(m.payload))  # what goes out matches the schema
        assert isinstance(doc, w.ResultBatch) and doc.sample.code == m.sample_code
        assert doc.sampling_event.programme_type == "routine" and doc.sampling_event.strategy == "random"
        assert doc.sampling_event.sampling_point == "before_harvest"  # stored as 采收前
        assert doc.sample.producer is not None and doc.sample.producer.credit_code
        assert doc.sample.certificate_no and doc.sample.trace_code and doc.lab.cma_number


def test_certification_amendment_and_checkpoints_travel_in_order(db_factory, key, hub):
    (rid,) = _results(db_factory, [1])
    _sign(db_factory, [rid])
    with session_scope(db_factory, actor="zhangwei") as s:
        tech = s.execute(select(Result.analyst_id).where(Result.id == rid)).scalar_one()
        new = signoff.amend_result(s, rid, value=25.0, value_text="25.0% 阴性", reason="抑制率录入错误，更正",
                                   analyst_id=tech).id
    with db_factory() as s:
        assert not s.execute(select(OutboxItem).where(OutboxItem.result_id == new)).first()  # not before approval
    _sign(db_factory, [new])
    results, checkpoints = _messages(db_factory, "result"), _messages(db_factory, "checkpoint")
    assert len(results) == 2 and len(checkpoints) >= 2  # one checkpoint per approval at least
    first, amendment = (json.loads(m.payload)["results"][0] for m in results)
    assert (first["resultId"], first["change"], first["supersedes"]) == (rid, "original", None)
    assert (amendment["resultId"], amendment["change"], amendment["supersedes"]) == (new, "amendment", rid)
    assert amendment["reason"] == "抑制率录入错误，更正"
    for m in checkpoints:
        assert isinstance(w.validate_message(json.loads(m.payload)), w.CheckpointMessage)

    client = TestClient(create_app(db_factory.kw["bind"]))
    qa = _token(client, "wangfang")
    before = client.get(f"/api/v1/upstream/results/{new}", headers=qa).json()
    assert before["state"] == "pending" and before["receipt_id"] is None

    assert Worker(db_factory, key, hub_url=hub.url, lab_code=LAB).run_once() == len(results) + len(checkpoints)
    with hub.factory() as s:
        stored = [r.idempotency_key for r in s.execute(select(HubReceipt).order_by(HubReceipt.id)).scalars()]
    assert stored.index(results[0].idempotency_key) < stored.index(results[1].idempotency_key)
    assert sum(k.startswith(f"{LAB}:checkpoint:") for k in stored) == len(checkpoints)

    after = client.get(f"/api/v1/upstream/results/{new}", headers=qa).json()
    assert client.get(f"/api/v1/results/{new}", headers=qa).json()["upstream"] == after  # the result read model
    msg = next(m for m in _messages(db_factory, "result") if m.id == after["message_id"])
    assert after["state"] == "delivered" and after["receipt_id"] == msg.receipt_id != ""
    page = client.get("/api/v1/upstream/messages", params={"result_id": rid}, headers=qa).json()
    assert page["total"] == 1 and page["items"][0]["result_ids"] == [rid]
    page = client.get("/api/v1/upstream/messages", params={"kind": "checkpoint", "status": "delivered"},
                      headers=qa).json()
    assert page["total"] == len(checkpoints)
    status = client.get("/api/v1/upstream/status", headers=qa).json()
    assert status == {"pending": 0, "delivered": len(stored), "dead_letter": 0, "failed": 0,
                      "oldest_pending_at": None}
    bad = client.get("/api/v1/upstream/messages", params={"status": "lost"}, headers=qa)
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "upstream.unknown_status"


def test_dead_letter_requeued_by_the_qa_manager_only_and_audited(db_factory, key, hub):
    seed_reference(db_factory)
    doc = w.ResultBatch(lab=w.LabRef(code=LAB), sampling_event=w.SamplingEvent(), sample=w.SampleRecord(
        code="S1", product_code="QINCAI"), results=[w.ResultItem(
            result_id=1, version=1, analysis=w.AnalysisRecord(analyte="A", method="M", kind="screening"),
            result=w.ResultValue(res_type="VAL", value=0.1, unit="mg/kg", lod=0.05, loq=0.01),  # LOD > LOQ
            evaluation=w.Evaluation(code="not_evaluated"))])
    with session_scope(db_factory, actor="test") as s:
        s.add(OutboxMessage(kind="result", idempotency_key=f"{LAB}:result:1", payload=json.dumps(doc.wire()),
                            sample_code="S1"))
    Worker(db_factory, key, hub_url=hub.url, lab_code=LAB).run_once()
    (msg,) = _messages(db_factory)
    assert msg.status == "dead" and "LOD must not exceed LOQ" in msg.last_error

    client = TestClient(create_app(db_factory.kw["bind"]))
    listed = client.get("/api/v1/upstream/messages", params={"status": "dead"}, headers=_token(client, "liqiang"))
    assert listed.json()["items"][0]["last_error"] == msg.last_error
    body = {"message_ids": [msg.id], "reason": "hub rule fixed; send again"}
    assert client.post("/api/v1/upstream/requeue", json=body, headers=_token(client, "zhangwei")).status_code == 403
    assert client.post("/api/v1/upstream/requeue", json={"message_ids": [msg.id], "reason": "x"},
                       headers=_token(client, "wangfang")).status_code == 422  # a reason is required
    r = client.post("/api/v1/upstream/requeue", json=body, headers=_token(client, "wangfang"))
    assert r.status_code == 200 and r.json() == {"requeued": [msg.id]}
    (msg,) = _messages(db_factory)
    assert msg.status == "pending" and msg.attempts == 0
    with db_factory() as s:
        ev = s.execute(select(AuditEvent).where(AuditEvent.table_name == "outbox_message",
                                                AuditEvent.record_id == str(msg.id))
                       .order_by(AuditEvent.seq.desc())).scalars().first()
    assert ev.actor == "wangfang" and ev.reason == "hub rule fixed; send again" and '"pending"' in ev.new
    again = client.post("/api/v1/upstream/requeue", json=body, headers=_token(client, "wangfang"))
    assert again.status_code == 409 and again.json()["detail"]["code"] == "upstream.not_dead"


def test_schemas_are_served_versioned_draft_2020_12(db_engine):
    client = TestClient(create_app(db_engine))
    index = client.get("/api/v1/schemas/")
    assert index.status_code == 200  # public: the hub and other labs validate against them
    names = {e["name"]: e for e in index.json()}
    assert {"result-batch", "checkpoint", "task-notice", "task-progress", "receipt", "problem"} <= set(names)
    doc = client.get(names["result-batch"]["url"]).json()
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"].endswith("/api/v1/schemas/result-batch") and doc["x-schema-version"] == 2
    assert doc["properties"]["schema"]["const"] == "cn-agri-residue/2"
    assert doc["properties"]["results"]["maxItems"] == 100
    item = doc["$defs"]["ResultValue"]["properties"]
    assert item["resType"]["enum"] == ["VAL", "LOQ", "LOD", "BIN"]
    assert set(doc["$defs"]["Evaluation"]["properties"]["code"]["enum"]) == {
        "compliant", "non_compliant", "compliant_within_uncertainty", "not_evaluated", "banned_substance_detected"}
    assert client.get("/api/v1/schemas/nope").status_code == 404


def test_a_retraction_names_the_result_it_withdraws_and_waits_for_it(db_factory, key):
    from lims.db.models import OutboxItem as Item
    from lims.upstream.delivery import due_ids
    from lims.upstream.outbox import queue_retraction

    (rid,) = _results(db_factory, [1])
    _sign(db_factory, [rid])
    with session_scope(db_factory, actor="wangfang", reason="sample found mislabelled") as s:
        msg = queue_retraction(s, s.get(Result, rid), lab_code=LAB, reason="样品标识错误，结果撤回")
        retraction_id = msg.id
    original, retraction = _messages(db_factory, "result")[0], _messages(db_factory, "retraction")[0]
    doc = w.validate_message(json.loads(retraction.payload))
    assert isinstance(doc, w.ResultBatch)
    (item,) = doc.results
    assert (item.change, item.supersedes, item.reason) == ("retraction", rid, "样品标识错误，结果撤回")
    assert retraction.idempotency_key == f"{LAB}:retraction:{rid}" and retraction.sample_code == original.sample_code
    with db_factory() as s:
        due = due_ids(s, limit=100, now=retraction.next_attempt_at)
        assert original.id in due and retraction_id not in due  # never before the result it withdraws
        assert {m for (m,) in s.execute(select(Item.message_id).where(Item.result_id == rid))} == {
            original.id, retraction_id}
