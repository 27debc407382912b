"""Upstream delivery against the real hub app over real HTTP on loopback: Ed25519 signatures,
Idempotency-Key semantics, retry with backoff when the hub is down, dead letter on 4xx."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from lims.db.engine import session_scope
from lims.db.models import HubReceipt, OutboxMessage
from lims.demo.loopback import LoopbackHub
from lims.hub.registry import register_lab_key
from lims.upstream.delivery import deliver_due, full_jitter_delay
from lims.upstream.queue import requeue
from lims.upstream.signing import load_or_create_key, public_key_pem, sign_request

ITEM = {"resultId": 1, "version": 1, "analysis": {"analyte": "A1", "method": "M1", "kind": "screening"},
        "result": {"resType": "BIN", "value": None, "unit": "mg/kg", "lod": None, "loq": None},
        "evaluation": {"code": "not_evaluated"}}
# a cn-agri-residue/2 message (lims.upstream.schema) with one result
PAYLOAD = {"schema": "cn-agri-residue/2", "lab": {"code": "LAB1"}, "samplingEvent": {},
           "sample": {"code": "S1", "productCode": "P1"}, "results": [ITEM]}


@pytest.fixture
def hub(tmp_path):
    with LoopbackHub(f"sqlite:///{tmp_path / 'hub.db'}") as h:
        yield h


@pytest.fixture
def key(tmp_path):
    return load_or_create_key(tmp_path / "k.pem")


def _queue(factory, key_id, payload=PAYLOAD):
    with session_scope(factory, actor="t") as s:
        s.add(OutboxMessage(kind="result", idempotency_key=key_id, payload=json.dumps(payload)))


def test_signed_message_is_accepted_once(hub, key, db_factory):
    with session_scope(hub.factory, actor="admin") as s:
        register_lab_key(s, "LAB1", public_key_pem(key))
    _queue(db_factory, "LAB1:result:1")
    with httpx.Client() as client:
        stats = deliver_due(db_factory, client, key, hub_url=hub.url, lab_code="LAB1")
        assert stats.delivered == 1
        body = json.dumps(PAYLOAD).encode()
        # replay: same key + same payload → stored answer, not a second receipt
        r = client.post(f"{hub.url}/hub/v1/messages", content=body,
                        headers=sign_request(key, body, lab_code="LAB1", idempotency_key="LAB1:result:1"))
        assert r.status_code == 200 and r.json()["duplicate"] is True
        # same key + different payload → 422
        other = json.dumps({**PAYLOAD, "sample": {"code": "S2"}}).encode()
        r = client.post(f"{hub.url}/hub/v1/messages", content=other,
                        headers=sign_request(key, other, lab_code="LAB1", idempotency_key="LAB1:result:1"))
        assert r.status_code == 422
        # tampered body → 401
        headers = sign_request(key, body, lab_code="LAB1", idempotency_key="LAB1:result:9")
        r = client.post(f"{hub.url}/hub/v1/messages", content=body.replace(b"S1", b"S9"), headers=headers)
        assert r.status_code == 401
        # wrong key → 401
        intruder = Ed25519PrivateKey.generate()
        r = client.post(f"{hub.url}/hub/v1/messages", content=body,
                        headers=sign_request(intruder, body, lab_code="LAB1", idempotency_key="LAB1:x"))
        assert r.status_code == 401
    with hub.factory() as s:
        assert s.execute(select(func.count()).select_from(HubReceipt)).scalar_one() == 1


def test_invalid_message_is_dead_lettered_and_can_be_requeued(hub, key, db_factory):
    with session_scope(hub.factory, actor="admin") as s:
        register_lab_key(s, "LAB1", public_key_pem(key))
    bad = {**PAYLOAD, "results": [{**ITEM, "result": {"resType": "VAL", "value": None, "unit": "mg/kg", "lod": 0.02,
                                                        "loq": 0.01}}]}
    _queue(db_factory, "LAB1:result:2", bad)
    with httpx.Client() as client:
        stats = deliver_due(db_factory, client, key, hub_url=hub.url, lab_code="LAB1")
    assert stats.dead == 1
    with db_factory() as s:
        msg = s.execute(select(OutboxMessage)).scalar_one()
        assert msg.status == "dead"
        assert "LOD must not exceed LOQ" in msg.last_error
        assert "carries a value" in msg.last_error
    with session_scope(db_factory, actor="qa", reason="fixed at source") as s:
        requeue(s, [msg.id])
    with db_factory() as s:
        assert s.get(OutboxMessage, msg.id).status == "pending"


def test_hub_down_means_retry_later_not_loss(key, db_factory):
    _queue(db_factory, "LAB1:result:3")
    with httpx.Client(timeout=1.0) as client:
        stats = deliver_due(db_factory, client, key, hub_url="http://127.0.0.1:9", lab_code="LAB1")
    assert stats.retried == 1
    with db_factory() as s:
        msg = s.execute(select(OutboxMessage)).scalar_one()
        assert msg.status == "pending" and msg.attempts == 1 and msg.last_error


def test_full_jitter_bounds():
    import random

    rng = random.Random(1)
    for attempt in range(12):
        for _ in range(50):
            d = full_jitter_delay(attempt, base=0.5, cap=300, rng=rng)
            assert 0 <= d <= min(300, 0.5 * 2 ** attempt)
