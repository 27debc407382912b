"""Tasks sent down: `lims hub task publish FILE` on the hub, the lab pulls its tasks with
lims.upstream.tasks.pull over loopback (signed; another lab's tasks refused), a newer version replaces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lims.db.engine import session_scope
from lims.demo.loopback import LoopbackHub
from lims.hub.registry import add_lab_key
from lims.upstream.signing import public_key_pem, sign_request
from lims.upstream.tasks import TaskFeedError, pull

NOTICE = {"schema": "cn-agri-task/1", "code": "ZJ-2026-LX-01", "name": "2026年浙江省例行监测", "programmeType": "routine",
          "issuingAuthority": "浙江省农业农村厅", "version": 1, "requiredAnalytes": ["CHLORPYRIFOS"],
          "quotas": [{"countyCode": "330102", "productCode": "QINCAI", "samples": 12}]}


def _publish(db_url: str, path, doc) -> subprocess.CompletedProcess[str]:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "LIMS_HUB_DATABASE_URL": db_url, "LIMS_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "lims.cli", "hub", "task", "publish", str(path), "--json"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_published_tasks_reach_the_labs_of_their_region(db_url, tmp_path):
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    with LoopbackHub(db_url) as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            add_lab_key(s, "LAB1", public_key_pem(key), region_code="330102")
            add_lab_key(s, "LAB2", public_key_pem(other), region_code="110101")
        done = _publish(db_url, tmp_path / "t.json", NOTICE)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"code": "ZJ-2026-LX-01", "state": "published"}
        with httpx.Client(timeout=10) as c:
            got = pull(c, key, hub_url=hub.url, lab_code="LAB1")
            assert [(t.code, t.version, t.quotas[0].samples) for t in got] == [("ZJ-2026-LX-01", 1, 12)]
            assert pull(c, other, hub_url=hub.url, lab_code="LAB2") == []  # not its region
            with pytest.raises(TaskFeedError, match="401"):
                pull(c, Ed25519PrivateKey.generate(), hub_url=hub.url, lab_code="LAB1")
            headers = sign_request(other, b"", lab_code="LAB2", idempotency_key="LAB2:tasks")
            r = c.get(f"{hub.url}/hub/v1/tasks", params={"lab": "LAB1"}, headers=headers)
            assert r.status_code == 403 and r.json()["rule"] == "lab.mismatch"
            changed = {**NOTICE, "version": 2, "quotas": [{**NOTICE["quotas"][0], "samples": 20}]}
            assert json.loads(_publish(db_url, tmp_path / "t2.json", changed).stdout)["state"] == "updated"
            stale = _publish(db_url, tmp_path / "t3.json", {**NOTICE, "name": "改过的名称"})
            assert stale.returncode == 2 and "version" in stale.stderr
            assert [(t.version, t.quotas[0].samples) for t in pull(c, key, hub_url=hub.url, lab_code="LAB1")] == [
                (2, 20)]
