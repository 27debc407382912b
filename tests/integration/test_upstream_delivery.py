"""Upstream delivery under faults, over real HTTP on loopback against the real hub app (api.hub under
uvicorn, lims.demo.loopback), on the test database (SQLite, or PostgreSQL with LIMS_TEST_DATABASE).
Faults the real hub cannot produce (a 500, a 429 with Retry-After, a connection cut after the hub committed)
come from a fault-injecting proxy in front of it (upstream_faults.FaultProxy, transport only).

"Time passes" moves due times into the past instead of sleeping through the backoff."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from sqlalchemy import func, select, update

from lims.clock import as_utc, utcnow
from lims.db.engine import session_scope
from lims.db.models import HubReceipt, OutboxMessage
from lims.demo.loopback import LoopbackHub, _free_port
from lims.services.hub import register_lab_key
from lims.upstream import schema as w
from lims.upstream.delivery import BACKOFF_BASE_S, MAX_ATTEMPTS, Worker, deliver_due, due_ids
from lims.upstream.signing import load_or_create_key, public_key_pem
from lims.vocabulary import OutboxStatus
from tests.integration.upstream_faults import CUT_AFTER_COMMIT, ERROR_500, FaultProxy, retry_after

LAB = "LAB1"


def batch(sample: str, result_id: int, *, change: str = "original", supersedes: int | None = None,
          lod: float = 0.01, loq: float = 0.02) -> str:
    """A valid cn-agri-residue/2 message built from the schema models (one result)."""
    item = w.ResultItem(result_id=result_id, version=2 if supersedes else 1, change=change, supersedes=supersedes,
                        analysis=w.AnalysisRecord(analyte="CHLORPYRIFOS", method="GC-OP", kind="confirmatory"),
                        result=w.ResultValue(res_type="VAL", value=0.05, unit="mg/kg", lod=lod, loq=loq),
                        evaluation=w.Evaluation(code="compliant"))
    doc = w.ResultBatch(lab=w.LabRef(code=LAB), sampling_event=w.SamplingEvent(region_code="511521"),
                        sample=w.SampleRecord(code=sample, product_code="QINCAI"), results=[item])
    return json.dumps(doc.wire(), sort_keys=True)


def queue(factory, sample: str, result_id: int, **kw) -> int:
    key = f"{LAB}:result:{result_id}" if kw.get("change", "original") != "retraction" else f"{LAB}:retraction:{result_id}"
    with session_scope(factory, actor="test", reason="queued by the test") as s:
        msg = OutboxMessage(kind="result", idempotency_key=key, payload=batch(sample, result_id, **kw),
                            sample_code=sample)
        s.add(msg)
        s.flush()
        return msg.id


def time_passes(factory) -> None:
    with session_scope(factory, actor="test") as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
                  .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))


def messages(factory) -> dict[int, OutboxMessage]:
    with factory() as s:
        return {m.id: m for m in s.execute(select(OutboxMessage)).scalars()}


def hub_receipts(hub) -> list[HubReceipt]:
    with hub.factory() as s:
        return list(s.execute(select(HubReceipt).order_by(HubReceipt.id)).scalars())


@pytest.fixture
def key(tmp_path):
    return load_or_create_key(tmp_path / "lab.pem")


@pytest.fixture
def hub(tmp_path, key):
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as h:
        with session_scope(h.factory, actor="hub:admin") as s:
            register_lab_key(s, LAB, public_key_pem(key))
        yield h


def deliver(factory, key, url: str):
    with httpx.Client(timeout=5) as client:
        return deliver_due(factory, client, key, hub_url=url, lab_code=LAB)


def test_hub_down_for_the_whole_run_then_up_loses_and_duplicates_nothing(db_factory, key, hub):
    ids = [queue(db_factory, f"S{n % 10}", n + 1) for n in range(30)]  # 10 samples × 3 messages
    down = f"http://127.0.0.1:{_free_port()}"
    for _ in range(3):  # a day of failed attempts (each pass: every sample's first message, the rest wait)
        stats = deliver(db_factory, key, down)
        assert stats.delivered == 0 and stats.retried == 10 and stats.dead == 0
        time_passes(db_factory)
    state = messages(db_factory)
    assert all(m.status == "pending" for m in state.values())
    assert {m.attempts for m in state.values() if m.id in ids[:10]} == {3}
    assert {m.attempts for m in state.values() if m.id in ids[10:]} == {0}  # never overtook the first
    assert all("ConnectError" in m.last_error for m in state.values() if m.attempts)
    delivered = Worker(db_factory, key, hub_url=hub.url, lab_code=LAB).run_once()
    assert delivered == 30
    state = messages(db_factory)
    assert {m.status for m in state.values()} == {"delivered"} and all(m.receipt_id for m in state.values())
    receipts = hub_receipts(hub)
    assert sorted(r.idempotency_key for r in receipts) == sorted(m.idempotency_key for m in state.values())
    # per sample, the hub stored the messages in the lab's order
    for sample in {f"S{n}" for n in range(10)}:
        lab_order = [m.idempotency_key for m in sorted(state.values(), key=lambda m: m.id) if m.sample_code == sample]
        hub_order = [r.idempotency_key for r in receipts if r.idempotency_key in lab_order]
        assert hub_order == lab_order


def test_intermittent_500_and_429_with_retry_after(db_factory, key, hub):
    ids = [queue(db_factory, f"S{n}", n + 1) for n in range(6)]
    with FaultProxy(hub.url, [ERROR_500, retry_after(7), "pass", ERROR_500, "pass", ERROR_500]) as proxy:
        before = utcnow()
        stats = deliver(db_factory, key, proxy.url)
        assert (stats.delivered, stats.retried, stats.dead) == (2, 4, 0)
        state = messages(db_factory)
        slow = state[ids[1]]  # answered 429 Retry-After: 7
        wait = (as_utc(slow.next_attempt_at) - before).total_seconds()
        assert 6.0 <= wait <= 8.5 and "HTTP 429" in slow.last_error
        for mid in (ids[0], ids[3], ids[5]):  # 500 after the first attempt: full jitter within base · 2
            wait = (as_utc(state[mid].next_attempt_at) - before).total_seconds()
            assert -0.5 <= wait <= BACKOFF_BASE_S * 2 + 1.0 and "HTTP 500" in state[mid].last_error
        with db_factory() as s:
            assert ids[1] not in due_ids(s, limit=100, now=utcnow())  # not before the hub's Retry-After
            assert ids[1] in due_ids(s, limit=100, now=utcnow() + dt.timedelta(seconds=8.5))
        for _ in range(5):
            time_passes(db_factory)
            deliver(db_factory, key, proxy.url)
        attempts = sum(m.attempts for m in messages(db_factory).values())
        assert attempts == len(proxy.log)
    assert {m.status for m in messages(db_factory).values()} == {"delivered"}
    keys = [r.idempotency_key for r in hub_receipts(hub)]
    assert sorted(keys) == sorted(f"{LAB}:result:{n + 1}" for n in range(6))  # each once


def test_connection_cut_after_the_hub_committed_resend_gets_the_stored_receipt(db_factory, key, hub):
    mid = queue(db_factory, "S1", 1)
    with FaultProxy(hub.url, [CUT_AFTER_COMMIT]) as proxy:
        stats = deliver(db_factory, key, proxy.url)
        assert stats.retried == 1 and stats.delivered == 0
        msg = messages(db_factory)[mid]
        assert msg.status == "pending" and msg.last_error  # the lab saw no answer
        stored = hub_receipts(hub)
        assert len(stored) == 1  # ...but the hub had committed
        time_passes(db_factory)
        stats = deliver(db_factory, key, proxy.url)
        assert stats.delivered == 1
        assert [k for _, k in proxy.log] == [f"{LAB}:result:1"] * 2  # the same message sent twice
    msg = messages(db_factory)[mid]
    assert msg.status == "delivered" and msg.receipt_id == str(stored[0].id)
    assert len(hub_receipts(hub)) == 1  # stored once


def test_an_amendment_never_overtakes_its_original(db_factory, key, hub):
    original = queue(db_factory, "S1", 1)
    amendment = queue(db_factory, "S1", 2, change="amendment", supersedes=1)
    other = queue(db_factory, "S2", 3)
    with FaultProxy(hub.url, [ERROR_500]) as proxy:
        stats = deliver(db_factory, key, proxy.url)
        assert stats.delivered == 1 and stats.retried == 1
        state = messages(db_factory)
        assert state[other].status == "delivered"
        assert state[original].status == "pending" and state[amendment].attempts == 0  # not even tried
        assert [k for _, k in proxy.log] == [f"{LAB}:result:1", f"{LAB}:result:3"]
        with db_factory() as s:
            assert due_ids(s, limit=100, now=utcnow() + dt.timedelta(hours=1)) == [original]
        time_passes(db_factory)
        assert Worker(db_factory, key, hub_url=proxy.url, lab_code=LAB).run_once() == 2
    keys = [r.idempotency_key for r in hub_receipts(hub)]
    assert keys == [f"{LAB}:result:3", f"{LAB}:result:1", f"{LAB}:result:2"]


def test_dead_letter_carries_the_hubs_reason_and_blocks_its_sample(db_factory, key, hub):
    bad = queue(db_factory, "S1", 1, lod=0.05, loq=0.02)  # breaks the hub's rule LOD ≤ LOQ
    later = queue(db_factory, "S1", 2, change="amendment", supersedes=1)
    stats = deliver(db_factory, key, hub.url)
    assert stats.dead == 1 and stats.delivered == 0
    state = messages(db_factory)
    assert state[bad].status == "dead" and "HTTP 422" in state[bad].last_error
    assert "LOD must not exceed LOQ" in state[bad].last_error
    assert state[later].status == "pending" and state[later].attempts == 0
    with db_factory() as s:
        assert due_ids(s, limit=100, now=utcnow()) == []


def test_giving_up_after_the_last_attempt_is_a_dead_letter(db_factory, key):
    mid = queue(db_factory, "S1", 1)
    with session_scope(db_factory, actor="test") as s:
        s.get(OutboxMessage, mid).attempts = MAX_ATTEMPTS - 1
    stats = deliver(db_factory, key, f"http://127.0.0.1:{_free_port()}")
    assert stats.dead == 1
    msg = messages(db_factory)[mid]
    assert msg.status == "dead" and msg.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


def test_the_serve_worker_thread_delivers_what_is_queued_later(db_factory, key, hub, wait_until):
    worker = Worker(db_factory, key, hub_url=hub.url, lab_code=LAB, poll_s=0.2)
    thread = worker.start_thread()
    try:
        mid = queue(db_factory, "S1", 1)
        assert wait_until(lambda: messages(db_factory)[mid].status == "delivered", 10)
    finally:
        worker.stop()
        thread.join(5)
    assert not thread.is_alive()
    with hub.factory() as s:
        assert s.execute(select(func.count()).select_from(HubReceipt)).scalar_one() == 1


def test_two_workers_on_one_outbox_send_each_message_once(db_factory, key, hub):
    """`lims serve` on several hosts and `lims upstream run` may drain the same outbox: the claim (a short unit
    of work that counts the attempt and leases the message) keeps them apart."""
    import threading

    for n in range(40):
        queue(db_factory, f"S{n}", n + 1)
    with FaultProxy(hub.url) as proxy:
        workers = [Worker(db_factory, key, hub_url=proxy.url, lab_code=LAB) for _ in range(2)]
        done: list[int] = []
        threads = [threading.Thread(target=lambda wk=wk: done.append(wk.run_once())) for wk in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sent = [k for _, k in proxy.log]
    assert sum(done) == 40 and len(sent) == 40 and len(set(sent)) == 40  # each message sent once
    state = messages(db_factory)
    assert {m.status for m in state.values()} == {"delivered"} and {m.attempts for m in state.values()} == {1}
    assert len(hub_receipts(hub)) == 40
