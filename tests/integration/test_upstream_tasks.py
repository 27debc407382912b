"""Monitoring tasks sent down and progress sent up (lims.upstream.tasks), on the test database.

The hub end of ``GET /hub/v1/tasks?lab=CODE`` is the hub's to build; until it exists these tests serve the
documented answer (lims.upstream.schema.TaskList, schema ``task-list``) from a small HTTP stub on loopback —
a test double of the hub for this one route."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from lims.db.engine import session_scope
from lims.db.models import MonitoringTask, OutboxMessage, Sample
from lims.demo import register_samples, seed_reference
from lims.upstream import schema as w
from lims.upstream.delivery import Worker
from lims.upstream.signing import load_or_create_key, public_key_pem, verify_request
from lims.upstream.tasks import TaskFeedError

LAB = "LAB-T"


def notice(code: str, version: int = 1, **over) -> dict:
    doc = w.TaskNotice(code=code, name="2026 年蔬菜农药残留例行监测（第四季度）", programme_type="routine",
                       issuing_authority="某省农业农村厅", version=version, required_analytes=["OP-CARB"],
                       quotas=[w.TaskQuota(county_code="511521", product_code="JIUCAI", samples=20)]).wire()
    return {**doc, **over}


class StubHub:
    def __init__(self, key) -> None:
        self.body: bytes = b""
        self.requests: list[tuple[str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                stub.requests.append((self.path, dict(self.headers)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, *tasks: dict) -> None:
        self.body = json.dumps({"tasks": list(tasks)}).encode()


@pytest.fixture
def key(tmp_path):
    return load_or_create_key(tmp_path / "lab.pem")


@pytest.fixture
def stub(key):
    s = StubHub(key)
    yield s
    s.server.shutdown()


def test_tasks_pulled_kept_updated_by_version_and_progress_queued(db_factory, key, stub):
    seed_reference(db_factory)  # has the lab's own task T2026-LX-11
    register_samples(db_factory)  # five samples of T2026-LX-11
    worker = Worker(db_factory, key, hub_url=stub.url, lab_code=LAB)
    stub.publish(notice("SC-2026-LX-Q4"), notice("T2026-LX-11"))
    sync, queued = worker.sync_tasks()
    assert sync.created == ["SC-2026-LX-Q4"] and sync.refused[0].startswith("T2026-LX-11: a task the lab created")
    path, headers = stub.requests[0]
    assert path == f"/hub/v1/tasks?lab={LAB}"
    verify_request(public_key_pem(key), b"", headers)  # signed like a message, over the empty body
    assert queued == 1
    with db_factory() as s:
        task = s.execute(select(MonitoringTask).where(MonitoringTask.code == "SC-2026-LX-Q4")).scalar_one()
        assert task.programme_type == "routine" and task.hub_notice["quotas"][0]["samples"] == 20

    stub.publish(notice("SC-2026-LX-Q4"))
    assert worker.sync_tasks()[0].unchanged == ["SC-2026-LX-Q4"]
    stub.publish(notice("SC-2026-LX-Q4", version=2, name="2026 年第四季度例行监测（调整）"))
    assert worker.sync_tasks()[0].updated == ["SC-2026-LX-Q4"]
    with db_factory() as s:
        task = s.execute(select(MonitoringTask).where(MonitoringTask.code == "SC-2026-LX-Q4")).scalar_one()
        assert task.name == "2026 年第四季度例行监测（调整）" and task.hub_notice["version"] == 2

    # progress: the lab takes samples under the hub's task; they are counted per county and commodity
    with session_scope(db_factory, actor="zhangwei", reason="samples under the provincial task") as s:
        for sample in s.execute(select(Sample).order_by(Sample.id).limit(3)).scalars():
            sample.task_code = "SC-2026-LX-Q4"
        first = s.execute(select(Sample).order_by(Sample.id)).scalars().first()
        first.status = "approved"
        expected: dict[tuple[str, str], list[int]] = {}
        for sample in s.execute(select(Sample).where(Sample.task_code == "SC-2026-LX-Q4")).scalars():
            row = expected.setdefault((sample.region_code, sample.commodity.code), [0, 0])
            row[0] += 1
            row[1] += sample.status == "approved"
    worker.sync_tasks()
    with db_factory() as s:
        last = s.execute(select(OutboxMessage).where(OutboxMessage.kind == "task_progress")
                         .order_by(OutboxMessage.id.desc())).scalars().first()
    doc = w.validate_message(json.loads(last.payload))
    assert isinstance(doc, w.TaskProgress) and doc.task_code == "SC-2026-LX-Q4" and doc.lab == LAB
    assert {(r.county_code, r.product_code): [r.taken, r.tested] for r in doc.rows} == expected
    assert last.sample_code is None  # progress waits for no sample


@pytest.mark.parametrize(("body", "named"), [
    ({"tasks": [{k: v for k, v in notice("X").items() if k != "programmeType"}]}, "tasks.0.programmeType"),
    ({"tasks": [notice("X", programmeType="weekly")]}, "tasks.0.programmeType"),
    ({"tasks": [notice("X", quotas=[{"countyCode": "12", "productCode": "JIUCAI", "samples": 1}])]},
     "tasks.0.quotas.0.countyCode"),
])
def test_a_bad_task_list_is_refused_naming_the_field(db_factory, key, stub, body, named):
    stub.body = json.dumps(body).encode()
    with pytest.raises(TaskFeedError, match=named.replace(".", r"\.")):
        Worker(db_factory, key, hub_url=stub.url, lab_code=LAB).sync_tasks()
    with db_factory() as s:
        assert not s.execute(select(MonitoringTask).where(MonitoringTask.code == "X")).first()
