"""ASTM sender role of ``lims acquire`` (issue 13: "there is no ASTM sender role … no order download, no
answer to a host query"), against python-astm on real loopback TCP sockets in both roles:

- python-astm's client is the analyzer: it asks for the orders of two samples (one on the lab's batch, one
  unknown) with a Q record and receives our answer on the same connection;
- python-astm's server is the receiver of our order download: the worklist built from a batch
  (``POST /api/v1/instruments/{code}/worklist``'s service) goes down as O records.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.orders import build_worklist, send_worklist
from lims.db.engine import session_scope
from lims.db.models import InstrumentWorklist

from .astm_peer import QueryingAnalyzer, ReceivingServer, patch_python_astm
from .conftest import GC_BATCH as ON_BATCH

pytestmark = pytest.mark.db
UNKNOWN = "X-NOT-REGISTERED"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service(db_factory, transport: str) -> AcquisitionService:
    cfg = parse_config(f'[[instrument]]\ncode = "GC-01"\nprofile = "astm_gc_datasystem"\n'
                       f'transport = "{transport}"\npoll_interval_s = 0.2\n')
    svc = AcquisitionService(cfg, db_factory)
    svc.start()
    return svc


def test_worklist_of_a_batch_lists_each_sample_once_with_its_analytes(gc_lab):
    with gc_lab() as s:
        wl = build_worklist(s, batch_code="B-GC-1")
        queue = build_worklist(s, instrument_code="GC-01")
    assert wl["instrument"] == "GC-01" and wl["source"] == "batch"
    assert [(e["position"], e["sample_code"], [a["test_code"] for a in e["analyses"]]) for e in wl["entries"]] == [
        (1, ON_BATCH[0], ["CHLORPYRIFOS"]), (2, ON_BATCH[1], ["CHLORPYRIFOS"])]
    assert queue["entries"] == wl["entries"] and queue["source"] == "queue"


def test_python_astm_analyzer_asks_and_receives_the_orders_of_the_batch(gc_lab, monkeypatch):
    patch_python_astm(monkeypatch)
    port = _free_port()
    svc = _service(gc_lab, f"tcp-listen://127.0.0.1:{port}")
    try:
        query = [[b"H", b"\\^&", None, None, b"GC-SIM"],  # python-astm cannot write H.2 itself: given as text
                 [b"Q", b"1", [None, ON_BATCH[0].encode()], None, [None, None, None, b"ALL"], None, None, None,
                  None, None, None, None, b"O"],
                 [b"Q", b"2", [None, UNKNOWN.encode()], None, [None, None, None, b"ALL"], None, None, None,
                  None, None, None, None, b"O"],
                 [b"L", b"1", b"N"]]
        deadline = time.monotonic() + 10
        while "GC-01" not in svc.runners and time.monotonic() < deadline:  # its runner made: port bound
            time.sleep(0.05)
        peer = QueryingAnalyzer(query, "127.0.0.1", port)
        peer.run_until(lambda: peer.sessions_received >= 1)
        records = peer.dispatcher.records
    finally:
        svc.stop()
    kinds = [r[0] for r in records]
    assert kinds[0] == "H" and kinds[-1] == "L"
    orders = [r for r in records if r[0] == "O"]
    assert [(o[2], o[25]) for o in orders] == [(ON_BATCH[0], "Q"), (UNKNOWN, "Y")]
    # O.5: only the batch's analyses on this instrument (not the sample's screening test) (^^^CODE)
    assert orders[0][4] == [None, None, None, "CHLORPYRIFOS"]
    assert records[-1][2] == "F"  # L.3: last request for information processed
    stats = next(r for name, r in svc.runners.items() if name == "GC-01").stats.extra
    assert stats["queries_answered"] == 1 and stats["specimens_unknown"] == 1


def test_order_download_to_python_astm_server(gc_lab, monkeypatch):
    patch_python_astm(monkeypatch)
    with session_scope(gc_lab, actor="zhangwei") as s:
        stored = send_worklist(s, "GC-01", batch_code="B-GC-1")
    assert stored["status"] == "pending"
    with ReceivingServer() as server:
        svc = _service(gc_lab, f"socket://127.0.0.1:{server.port}")
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with gc_lab() as s:
                    row = s.get(InstrumentWorklist, stored["id"])
                    if row.status != "pending":
                        break
                time.sleep(0.1)
        finally:
            svc.stop()
    with gc_lab() as s:
        row = s.get(InstrumentWorklist, stored["id"])
        assert row.status == "sent", row.detail
    orders = [r for r in server.records if r[0] == "O"]
    assert [(o[2], o[3], o[4], o[11], o[25]) for o in orders] == [
        (ON_BATCH[0], "1", [None, None, None, "CHLORPYRIFOS"], "N", "O"),
        (ON_BATCH[1], "2", [None, None, None, "CHLORPYRIFOS"], "N", "O")]
    assert server.records[-1][:3] == ["L", "1", "N"]


def test_order_download_nobody_answers_fails_with_the_link_reason(gc_lab, tmp_path):
    """A receiver that accepts the connection and never answers ENQ (E1381 §8.5.1: no reply within the
    sender timeout, here 0.5 s in a copy of the profile): the worklist is marked failed with the reason."""
    profile = tmp_path / "astm_fast.toml"
    text = (Path(__file__).parents[3] / "drivers/profiles/astm_gc_datasystem.toml").read_text(encoding="utf-8")
    profile.write_text(text.replace('name = "astm_gc_datasystem"', 'name = "astm_fast"')
                       .replace("sender_timeout_s = 15.0", "sender_timeout_s = 0.5"), encoding="utf-8")
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(1)
        with session_scope(gc_lab, actor="zhangwei") as s:
            stored = send_worklist(s, "GC-01", batch_code="B-GC-1")
        cfg = parse_config(f'[[instrument]]\ncode = "GC-01"\nprofile = "{profile}"\n'
                           f'transport = "socket://127.0.0.1:{mute.getsockname()[1]}"\npoll_interval_s = 0.2\n')
        svc = AcquisitionService(cfg, gc_lab)
        svc.start()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with gc_lab() as s:
                    if s.get(InstrumentWorklist, stored["id"]).status != "pending":
                        break
                time.sleep(0.1)
        finally:
            svc.stop()
    with gc_lab() as s:
        row = s.get(InstrumentWorklist, stored["id"])
        assert (row.status, row.detail) == ("failed", "aborted: no reply to ENQ within 0.5 s")
