"""The delivery worker's lease follows each message, not the chunk (issue 17): over real HTTP on loopback
against the real hub (api.hub under uvicorn) behind the fault proxy, on the test database (SQLite, or
PostgreSQL with LIMS_TEST_DATABASE).

* `lims upstream run` killed -9 mid-chunk (five messages answered, the sixth waiting on a hub that never
  answers, fourteen not yet sent): every message it held is due again one request timeout plus
  LEASE_MARGIN_S after the kill at the latest — not 2 × timeout × CLAIM_CHUNK + 5 s later.
* two workers on one outbox behind a slow hub (a chunk takes longer than a lease): the worker renews the
  lease of what it has yet to send, so the other never sends a message while it is held; no message is ever
  leased further ahead than a timeout plus LEASE_MARGIN_S (what a kill -9 would leave).
* a worker whose request outlived its lease writes no failure over the worker that took the message over
  (the attempt count of a claim fences it)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading

import httpx
from sqlalchemy import select

from lims.clock import as_utc, utcnow
from lims.db.models import OutboxMessage
from lims.upstream.delivery import CLAIM_CHUNK, LEASE_MARGIN_S, Worker, deliver_due, due_ids
from lims.vocabulary import OutboxStatus
from tests.integration import test_upstream_delivery as base
from tests.integration.upstream_faults import ERROR_500, HANG, PASS, FaultProxy, slow

LAB = base.LAB
key = base.key  # fixtures: the lab's key (tmp_path/lab.pem), the real hub on loopback knowing it
hub = base.hub


def _held_leases(factory) -> dict[int, dt.datetime]:  # type: ignore[no-untyped-def]
    """Lease ends of the messages a worker holds (pending, claimed at least once)."""
    with factory.read() as s:
        rows = s.execute(select(OutboxMessage.id, OutboxMessage.next_attempt_at).where(
            OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0))
        return {mid: as_utc(at) for mid, at in rows}


def test_kill_9_mid_chunk_leaves_every_message_due_again_after_one_timeout(db_url, db_factory, key, hub, tmp_path,
                                                                            wait_until):
    timeout_s = 3.0
    ids = [base.queue(db_factory, f"S{n}", n) for n in range(1, CLAIM_CHUNK + 1)]  # one chunk
    env = {**os.environ, "LIMS_DATABASE_URL": db_url, "LIMS_UPSTREAM_KEY": str(tmp_path / "lab.pem"),
           "LIMS_LAB_CODE": LAB, "LIMS_UPSTREAM_TIMEOUT_S": str(timeout_s),
           "LIMS_ANCHOR_LOG": str(tmp_path / "anchors.log")}
    with FaultProxy(hub.url, [PASS] * 5 + [HANG]) as proxy:
        env["LIMS_UPSTREAM_URL"] = proxy.url
        worker = subprocess.Popen([sys.executable, "-m", "lims.cli", "upstream", "run"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_until(lambda: any(mode == HANG for mode, _ in proxy.log), 60), "the worker sent nothing"
            worker.send_signal(signal.SIGKILL)  # waiting on the hub's answer, with answers in hand unrecorded
            worker.wait(10)
            killed_at = utcnow()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
        sent = [k for mode, k in proxy.log if k]  # (a monitoring-task pull carries no key)
    state = base.messages(db_factory)
    assert len(sent) == 6 and {m.status for m in state.values()} == {"pending"}  # nothing recorded
    assert {m.attempts for m in state.values()} == {1}  # the whole chunk was claimed
    leases = _held_leases(db_factory)
    assert sorted(leases) == ids
    bound = killed_at + dt.timedelta(seconds=timeout_s + LEASE_MARGIN_S)
    assert all(killed_at < end <= bound for end in leases.values()), (killed_at, sorted(leases.values()))
    with db_factory.read() as s:
        assert due_ids(s, limit=100, now=killed_at) == []  # held while the lease runs...
        assert due_ids(s, limit=100, now=bound) == ids  # ...every one of them due again once it ran out
    base.time_passes(db_factory)
    assert Worker(db_factory, key, hub_url=hub.url, lab_code=LAB).run_once() == CLAIM_CHUNK
    receipts = base.hub_receipts(hub)
    assert sorted(r.idempotency_key for r in receipts) == sorted(m.idempotency_key for m in state.values())


def test_two_workers_behind_a_slow_hub_never_send_a_held_message(db_factory, key, hub, wait_until):
    """A chunk of 20 at 0.4 s a request takes 8 s; a lease (1 s timeout + LEASE_MARGIN_S) is shorter: without
    renewal, the second worker would take over and resend the first worker's tail."""
    timeout_s, n = 1.0, 2 * CLAIM_CHUNK
    for i in range(1, n + 1):
        base.queue(db_factory, f"S{i}", i)
    ahead = dt.timedelta(seconds=timeout_s + LEASE_MARGIN_S)
    seen: dict[int, set[dt.datetime]] = {}
    too_far: list[tuple[int, dt.datetime, dt.datetime]] = []
    with FaultProxy(hub.url, [slow(0.4)] * n) as proxy:
        workers = [Worker(db_factory, key, hub_url=proxy.url, lab_code=LAB, poll_s=0.2, timeout_s=timeout_s)
                   for _ in range(2)]
        threads = [w.start_thread() for w in workers]
        try:
            def all_delivered() -> bool:
                now = utcnow()
                for mid, end in _held_leases(db_factory).items():
                    seen.setdefault(mid, set()).add(end)
                    if end > now + ahead:
                        too_far.append((mid, now, end))
                return {m.status for m in base.messages(db_factory).values()} == {"delivered"}

            assert wait_until(all_delivered, 120)
        finally:
            for w in workers:
                w.stop()
            for t in threads:
                t.join(10)
        sent = [k for _, k in proxy.log if k]
    assert len(sent) == n and len(set(sent)) == n  # each message sent once
    assert {m.attempts for m in base.messages(db_factory).values()} == {1}
    assert sum(w.totals.delivered for w in workers) == n and all(w.totals.delivered for w in workers)
    assert not too_far  # never leased further ahead than one request (what a kill -9 leaves behind)
    assert any(len(ends) > 1 for ends in seen.values())  # leases were renewed (the chunk outlasted one)
    assert len(base.hub_receipts(hub)) == n


def test_a_worker_whose_lease_lapsed_writes_no_failure_over_the_next_holder(db_factory, key, hub, wait_until):
    mid = base.queue(db_factory, "S1", 1)

    def worker(timeout_s: float) -> threading.Thread:
        def run() -> None:
            with httpx.Client(timeout=timeout_s) as client:
                deliver_due(db_factory, client, key, hub_url=proxy.url, lab_code=LAB)
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with FaultProxy(hub.url, [slow(1.5, ERROR_500), HANG]) as proxy:
        first = worker(5.0)  # its request: a 500 after 1.5 s
        assert wait_until(lambda: len(proxy.log) == 1, 10)
        base.time_passes(db_factory)  # ...which outlives its lease (moved into the past)
        second = worker(5.0)  # claims the message again; its request hangs
        assert wait_until(lambda: len(proxy.log) == 2, 10)
        held = base.messages(db_factory)[mid]
        assert held.attempts == 2
        first.join(10)
        after = base.messages(db_factory)[mid]  # the first worker's 500 is not written over the second's lease
        assert (after.status, after.attempts, after.last_error) == ("pending", 2, "")
        assert as_utc(after.next_attempt_at) == as_utc(held.next_attempt_at)
        second.join(10)
    after = base.messages(db_factory)[mid]  # the holder records its own answer
    assert after.status == "pending" and "ReadTimeout" in after.last_error
