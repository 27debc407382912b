"""Worklists generated from the day's batch (issue 13: "worklists for the binary tester are hand-written CSV
files"): the REST routes (`GET /api/v1/batches/{code}/worklist`, `GET|POST /api/v1/instruments/{code}/worklist`,
`GET …/worklists`), `lims worklist show|send|list`, and the channel map of a tester without sample IDs on the
wire taken from a sent worklist when its run arrives."""

from __future__ import annotations

import csv
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from drivers.transports.scripted import ScriptedLink
from lims.acquisition.orders import send_worklist
from lims.cli import main
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import AuditEvent, Batch, InstrumentWorklist, Reading
from lims.services import auth

from .conftest import GC_BATCH

pytestmark = pytest.mark.db
PASSWORD = "Worklist-Test-Passw0rd!"


@pytest.fixture
def client(gc_lab, db_engine):
    with session_scope(gc_lab, actor="admin") as s:
        user = auth.create_user(s, "tech", "技术员", PASSWORD, ["technician"])
        token = auth.create_bearer_token(s, user).token
    c = TestClient(create_app(db_engine))
    c.h = {"Authorization": f"Bearer {token}"}  # type: ignore[attr-defined]
    return c


def test_rest_builds_sends_and_lists_worklists(client, gc_lab):
    assert client.get("/api/v1/batches/B-GC-1/worklist").status_code == 401
    wl = client.get("/api/v1/batches/B-GC-1/worklist", headers=client.h).json()
    assert [e["sample_code"] for e in wl["entries"]] == list(GC_BATCH) and wl["instrument"] == "GC-01"
    assert client.get("/api/v1/instruments/GC-01/worklist", headers=client.h).json()["entries"] == wl["entries"]
    assert client.get("/api/v1/batches/NOPE/worklist", headers=client.h).status_code == 404
    first = client.post("/api/v1/instruments/GC-01/worklist", json={"batch": "B-GC-1"}, headers=client.h)
    assert first.status_code == 201 and first.json()["status"] == "pending"
    second = client.post("/api/v1/instruments/GC-01/worklist", json={}, headers=client.h).json()  # open queue
    listed = client.get("/api/v1/instruments/GC-01/worklists", headers=client.h).json()
    assert [(w["id"], w["status"]) for w in listed] == [(second["id"], "pending"), (first.json()["id"], "cancelled")]
    assert listed[1]["detail"] == f"superseded by worklist {second['id']}"
    refused = client.post("/api/v1/instruments/PH-01/worklist", json={}, headers=client.h)  # nothing queued there
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "worklist.empty"
    refused = client.post("/api/v1/instruments/EI-01/worklist", json={}, headers=client.h)  # sends its sample IDs
    assert refused.status_code == 409 and refused.json()["detail"]["code"] == "worklist.not_supported"
    with gc_lab() as s:
        audited = s.execute(select(AuditEvent).where(AuditEvent.table_name == "instrument_worklist")).scalars().all()
    assert {(e.action, e.actor) for e in audited} >= {("create", "tech"), ("update", "tech")}


def test_cli_show_writes_the_channel_csv_and_send_stores_it(gc_lab, db_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    out = tmp_path / "rt01.csv"
    assert main(["worklist", "show", "--batch", "B-GC-1", "--csv", str(out), "--run", "7", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [e["position"] for e in doc["entries"]] == [1, 2]
    with out.open(encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["run_no", "channel", "sample_code"], ["7", "1", GC_BATCH[0]],
                                         ["7", "2", GC_BATCH[1]]]
    assert main(["worklist", "send", "--instrument", "GC-01", "--json"]) == 0
    sent = json.loads(capsys.readouterr().out)
    assert sent["status"] == "pending" and len(sent["entries"]) == 2
    assert main(["worklist", "list", "--instrument", "GC-01"]) == 0
    assert "pending" in capsys.readouterr().out
    assert main(["worklist", "show", "--batch", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert main(["worklist", "show", "--batch", "B-GC-1", "--csv", str(out)]) == 2  # --csv needs --run


def test_a_tester_run_takes_its_channel_map_from_the_sent_worklist(gc_lab, make_runner):
    """A 16-channel tester without a CSV worklist (its wire carries no sample ID): the worklist sent to it
    from a batch becomes its next run's channel → sample map (channel = position), marked applied to that
    run; the run after that has none (the worklist is used once)."""
    from .test_conversations import (
        ACK_RESULT_RUN_7,
        ACKED_RUN_7,
        GET_RESULT,
        GET_STATUS,
        RESULT_RUN_7,
        STATUS_READY_RUN_7,
    )

    with ScriptedLink([(GET_STATUS, STATUS_READY_RUN_7), (GET_RESULT, RESULT_RUN_7),
                       (ACK_RESULT_RUN_7, ACKED_RUN_7)]) as link:
        runner = make_runner("RT-WL", "rapid_binary_16ch", link)
        with session_scope(gc_lab, actor="tech") as s:
            batch = s.execute(select(Batch).where(Batch.code == "B-GC-1")).scalar_one()
            batch.instrument_id = runner.store.instrument_id  # the day's batch is run on this tester
        with session_scope(gc_lab, actor="tech") as s:
            sent = send_worklist(s, "RT-WL", batch_code="B-GC-1")
        runner.on_bytes(b"", 0.0)
    with gc_lab() as s:
        [reading] = s.execute(select(Reading)).scalars().all()
        row = s.get(InstrumentWorklist, sent["id"])
        assert (reading.run_no, reading.channel, reading.sample_code) == ("7", 1, GC_BATCH[0])
        assert reading.fields["sample_source"] == f"worklist:{sent['id']}"
        assert (row.status, row.run_no) == ("applied", "7")
        assert row.detail == "applied to run 7: 1 channel(s); positions [2] not in the run"  # a one-channel run
    assert runner.stats.extra["worklist_assigned"] == 1
