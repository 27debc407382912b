"""A hub is receiver and sender: lab → county hub → province hub over loopback, each hop signed with its own
key and idempotent; reconciliation (the lab asks which ids the hub holds and re-sends the missing ones; the
daily report); alerts to a webhook (a tiny loopback HTTP server) and the alert list; the published list of
non-compliant products (JSON, formula-neutral CSV, zh-CN page) and producer credit records."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select

from lims.config import Settings
from lims.db.engine import session_scope
from lims.db.models import OutboxMessage
from lims.db.models_hub import HubMessage, HubReceipt, HubResult
from lims.demo.loopback import LoopbackHub
from lims.hub import client as lab_client
from lims.hub import reconcile
from lims.hub.registry import add_lab_key
from lims.hub.relay import relay_worker
from lims.hub.tokens import create_token
from lims.upstream.delivery import Worker
from lims.upstream.signing import load_or_create_key, public_key_pem
from tests.integration.hub_support import batch, encode, item, post


class Webhook:
    """A loopback HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def webhook():
    w = Webhook()
    yield w
    w.close()


def test_lab_to_county_to_province_each_hop_signed_and_idempotent(db_url, db_factory, tmp_path, monkeypatch):
    lab_key, county_key = load_or_create_key(tmp_path / "lab.pem"), load_or_create_key(tmp_path / "county.pem")
    with LoopbackHub(f"sqlite:///{tmp_path / 'province.db'}") as province:
        with session_scope(province.factory, actor="hub:admin") as s:
            add_lab_key(s, "HUB-3301", public_key_pem(county_key), region_code="330100", kind="hub")
        monkeypatch.setenv("LIMS_HUB_RELAY_URL", province.url)  # the county hub relays (stores relay rows)
        with LoopbackHub(db_url) as county:
            monkeypatch.delenv("LIMS_HUB_RELAY_URL")
            with session_scope(county.factory, actor="hub:admin") as s:
                add_lab_key(s, "LAB1", public_key_pem(lab_key), region_code="330102")
            with httpx.Client(timeout=10) as c:
                for i in range(1, 4):
                    assert post(c, county.url, lab_key, batch([item(i)], sample=f"S{i}"),
                                idem=f"LAB1:result:{i}").status_code == 201
                assert post(c, county.url, lab_key, batch([item(1)], sample="S1")).status_code == 200  # replay
            settings = Settings(hub_relay_url=province.url, hub_key=tmp_path / "county.pem", hub_code="HUB-3301")
            worker = relay_worker(county.factory, settings)
            assert worker is not None and worker.run_once() == 3
            assert worker.run_once() == 0  # nothing left, nothing twice
            with province.factory() as s:
                rows = s.execute(select(HubReceipt.lab_code, HubReceipt.message_lab, HubReceipt.idempotency_key)
                                 .order_by(HubReceipt.id)).all()
                assert rows == [("HUB-3301", "LAB1", f"LAB1:result:{i}") for i in range(1, 4)]
                assert s.execute(select(func.count()).select_from(HubResult)).scalar_one() == 3
            # the province refuses a relay for a lab outside the relaying hub's region
            with httpx.Client(timeout=10) as c:
                far = post(c, province.url, county_key, batch([item(9)], sample="S9", region="110101"),
                           lab="HUB-3301", idem="LAB1:result:9")
                assert far.status_code == 403 and far.json()["rule"] == "lab.region"


def test_reconcile_finds_and_resends_what_the_hub_lost(db_url, db_factory, tmp_path):
    key = load_or_create_key(tmp_path / "lab.pem")
    with LoopbackHub(db_url) as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            add_lab_key(s, "LAB1", public_key_pem(key))
        lab_db = tmp_path / "lab.db"
        from lims.db.engine import make_engine, make_session_factory
        from lims.db.migrate import upgrade

        lab_engine = make_engine(f"sqlite:///{lab_db}")
        upgrade(lab_engine)
        lab = make_session_factory(lab_engine)
        with session_scope(lab, actor="t") as s:
            for i in range(1, 6):
                s.add(OutboxMessage(kind="result", idempotency_key=f"LAB1:result:{i}", sample_code=f"S{i}",
                                    payload=encode(batch([item(i)], sample=f"S{i}")).decode()))
        assert Worker(lab, key, hub_url=hub.url, lab_code="LAB1").run_once() == 5
        with session_scope(hub.factory, actor="t") as s:  # the hub lost two (restored from an old backup)
            s.execute(delete(HubResult.__table__))
            s.execute(delete(HubMessage.__table__))
            s.execute(delete(HubReceipt.__table__).where(HubReceipt.idempotency_key.in_(
                ["LAB1:result:2", "LAB1:result:4"])))
        with httpx.Client(timeout=10) as c:
            out = lab_client.reconcile(lab, c, key, hub_url=hub.url, lab_code="LAB1")
            assert (out.asked, out.held, out.missing, out.resent) == (
                5, 3, ["LAB1:result:2", "LAB1:result:4"], ["LAB1:result:2", "LAB1:result:4"])
            again = lab_client.reconcile(lab, c, key, hub_url=hub.url, lab_code="LAB1")
            assert again.missing == [] and again.held == 5
            # another lab's key may not ask about LAB1
            stranger = Ed25519PrivateKey.generate()
            with session_scope(hub.factory, actor="hub:admin") as s:
                add_lab_key(s, "LAB2", public_key_pem(stranger))
            body = json.dumps({"lab": "LAB1", "ids": ["LAB1:result:1"]}).encode()
            from lims.upstream.signing import sign_request

            r = c.post(f"{hub.url}/hub/v1/reconcile", content=body,
                       headers=sign_request(stranger, body, lab_code="LAB2", idempotency_key="reconcile:x"))
            assert r.status_code == 403 and r.json()["rule"] == "lab.mismatch"
        with session_scope(hub.factory, actor="t") as s:  # lost again; the lab's CLI finds and re-sends it
            s.execute(delete(HubReceipt.__table__).where(HubReceipt.idempotency_key == "LAB1:result:5"))
        env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{lab_db}", "LIMS_UPSTREAM_URL": hub.url,
               "LIMS_UPSTREAM_KEY": str(tmp_path / "lab.pem"), "LIMS_LAB_CODE": "LAB1"}
        done = subprocess.run([sys.executable, "-m", "lims.cli", "upstream", "reconcile", "--json"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"asked": 5, "held": 4, "missing": ["LAB1:result:5"],
                                           "resent": ["LAB1:result:5"], "failed": {}}
        with hub.factory() as s:
            report = reconcile.daily_report(s, dt.datetime.now(dt.UTC).date())
        assert report["labs"][0]["lab"] == "LAB1" and report["labs"][0]["messages"] == 5
        lab_engine.dispose()


def test_alerts_publication_and_credit_records(db_url, tmp_path, monkeypatch, webhook):
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("LIMS_HUB_ALERT_WEBHOOK", webhook.url)
    monkeypatch.setenv("LIMS_HUB_ALERT_MIN_TESTED", "4")
    monkeypatch.setenv("LIMS_HUB_ALERT_RATE", "0.2")
    with LoopbackHub(db_url) as hub:
        with session_scope(hub.factory, actor="hub:admin") as s:
            add_lab_key(s, "LAB1", public_key_pem(key))
            ops = {"Authorization": f"Bearer {create_token(s, 'ops')}"}  # the read routes need a token (issue 14)
        bad = dict(value=0.5, code="non_compliant")
        docs = [batch([item(1, **bad), item(2, "ACEPHATE")], sample="S1"),
                batch([item(3), item(4, "ACEPHATE")], sample="S2"),
                batch([item(5, "=HYPERLINK(1)", **bad)], sample="S3"),
                batch([item(6, "CARBOFURAN", value=0.02, code="banned_substance_detected", limit_type="banned",
                            limit=None)], sample="S4", producer="91330102MA2YYYYY2B")]
        with httpx.Client(timeout=10) as c:
            for i, doc in enumerate(docs, 1):
                assert post(c, hub.url, key, doc, idem=f"LAB1:m:{i}").status_code == 201
            deadline = dt.datetime.now() + dt.timedelta(seconds=10)
            while len(webhook.bodies) < 3 and dt.datetime.now() < deadline:
                threading.Event().wait(0.1)
            alerts = c.get(f"{hub.url}/hub/v1/alerts", headers=ops).json()
            assert sorted(a["rule"] for a in alerts) == ["banned_substance", "non_compliant_rate", "repeat_producer"]
            assert sorted(b["rule"] for b in webhook.bodies) == sorted(a["rule"] for a in alerts)
            listed = c.get(f"{hub.url}/hub/v1/non-compliant").json()
            assert {r["analyte_name"] for r in listed} == {"chlorpyrifos", "=hyperlink(1)", "carbofuran"}
            csv_text = c.get(f"{hub.url}/hub/v1/non-compliant.csv").content.decode("utf-8-sig")
            assert csv_text.startswith("月份,") and "'=hyperlink(1)" in csv_text
            page = c.get(f"{hub.url}/hub/public/non-compliant")
            assert page.status_code == 200 and "不合格农产品信息公开" in page.text and "carbofuran" in page.text
            credit = c.get(f"{hub.url}/hub/v1/producers", headers=ops).json()
            top = credit[0]
            assert (top["producer_code"], top["tested"], top["non_compliant"]) == ("91330102MA2XXXXX1A", 5, 2)
            labs_page = c.get(f"{hub.url}/hub/labs", headers=ops)
            assert labs_page.status_code == 200 and "LAB1" in labs_page.text and "有效" in labs_page.text
