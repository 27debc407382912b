"""The hub receiver over real HTTP on loopback (SQLite and PostgreSQL): signatures (forged, stale, rotated,
retired), the body's lab, the allowed region, every business rule as problem+json naming it, NaN and wrongly
typed JSON (never a 500), and the idempotent store (replay, reused key, in flight, duplicates)."""

from __future__ import annotations

import hashlib
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select

from lims.clock import utcnow
from lims.db.engine import session_scope
from lims.db.models_hub import HubMessage, HubReceipt, HubResult
from lims.demo.loopback import LoopbackHub
from lims.hub.registry import add_lab_key, retire_key
from lims.upstream.signing import fingerprint, public_key_pem, sign_request
from tests.integration.hub_support import batch, encode, item, post


@pytest.fixture
def hub(db_url):
    with LoopbackHub(db_url) as h:
        yield h


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def lab(hub, key):
    with session_scope(hub.factory, actor="hub:admin") as s:
        add_lab_key(s, "LAB1", public_key_pem(key), region_code="330100", name="杭州市农产品检测站")
    return key


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def count(hub, model) -> int:
    with hub.factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def assert_problem(r: httpx.Response, status: int, rule: str, pointer: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    doc = r.json()
    assert {"type", "title", "status", "detail", "rule", "pointer"} <= set(doc)
    assert doc["status"] == status and doc["rule"] == rule, doc
    if pointer is not None:
        assert doc["pointer"] == pointer, doc
    return doc


def test_accepted_then_replayed_gets_the_stored_receipt(hub, lab, client):
    doc = batch([item(1), item(2, "ACEPHATE")])
    first = post(client, hub.url, lab, doc)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["duplicate"] is False and receipt["digest"].startswith("sha-256:") and receipt["receivedAt"]
    again = post(client, hub.url, lab, doc)  # replay: same key, same payload
    assert again.status_code == 200 and again.json()["receipt"] == receipt["receipt"] and again.json()["duplicate"]
    other = post(client, hub.url, lab, batch([item(1, value=0.07)]))  # same key, other payload
    assert_problem(other, 422, "idempotency.key_reused")
    assert count(hub, HubReceipt) == 1 and count(hub, HubMessage) == 1 and count(hub, HubResult) == 2


def test_forged_signature_is_refused(hub, lab, client):
    forger = Ed25519PrivateKey.generate()
    assert_problem(post(client, hub.url, forger, batch([item(1)])), 401, "signature.invalid")
    body = encode(batch([item(1)]))
    r = client.post(f"{hub.url}/hub/v1/messages", content=body.replace(b"QINCAI", b"BOCAI"),
                    headers=sign_request(lab, body, lab_code="LAB1", idempotency_key="LAB1:result:1"))
    assert_problem(r, 401, "signature.invalid")  # the exact bytes are signed
    assert count(hub, HubReceipt) == 0


def test_stale_signature_is_refused_naming_the_window(hub, lab, client):
    r = post(client, hub.url, lab, batch([item(1)]), created=int(time.time()) - 3600)
    doc = assert_problem(r, 401, "signature.stale")
    assert "±300 s" in doc["detail"]
    assert post(client, hub.url, lab, batch([item(1)]), created=int(time.time()) - 100).status_code == 201


def test_unregistered_lab_is_refused(hub, lab, client):
    stranger = Ed25519PrivateKey.generate()
    assert_problem(post(client, hub.url, stranger, batch([item(1)], lab="LAB9"), lab="LAB9", idem="LAB9:1"),
                   401, "signature.unknown_lab")


def test_a_body_claiming_another_lab_is_refused(hub, lab, key, client):
    with session_scope(hub.factory, actor="hub:admin") as s:
        add_lab_key(s, "LAB2", public_key_pem(Ed25519PrivateKey.generate()))
    r = post(client, hub.url, lab, batch([item(1)], lab="LAB2"), idem="LAB1:result:7")
    assert_problem(r, 403, "lab.mismatch", "/lab")
    assert count(hub, HubReceipt) == 0


def test_a_region_outside_the_labs_is_refused(hub, lab, client):
    assert_problem(post(client, hub.url, lab, batch([item(1)], region="110101")), 403, "lab.region",
                   "/lab/regionCode")


BROKEN = [
    ("lod_le_loq", [item(1, lod=0.05, loq=0.02)], "/results/0/result/lod"),
    ("quantified_has_value", [item(1, value=None)], "/results/0/result/value"),
    ("value_ge_lod", [item(1, value=0.005)], "/results/0/result/value"),
    ("unquantified_has_no_value", [item(1, res_type="LOD", value=0.004)], "/results/0/result/value"),
    ("one_result_per_analyte", [item(1), item(2)], "/results/1/analysis/analyte"),
    ("non_compliant_needs_confirmation", [item(1, value=0.5, code="non_compliant", kind="screening")],
     "/results/0/analysis/kind"),
    ("unit_consistent", [item(1, limit_unit="%")], "/results/0/evaluation/limit/unit"),
    ("limit_consistent", [item(1, value=0.05, code="non_compliant")], "/results/0/evaluation/code"),
    ("limit_consistent", [item(1, value=0.5, code="compliant")], "/results/0/evaluation/code"),
    ("limit_consistent", [item(1, limit=None)], "/results/0/evaluation/limit/value"),
]


@pytest.mark.parametrize(("rule", "items", "pointer"), BROKEN, ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN)])
def test_each_business_rule_is_a_problem_naming_it(hub, lab, client, rule, items, pointer):
    doc = assert_problem(post(client, hub.url, lab, batch(items)), 422, rule, pointer)
    assert doc["errors"][0]["rule"] == rule and pointer in doc["detail"]
    assert count(hub, HubReceipt) == 0


def test_units_in_micrograms_are_consistent_with_a_limit_in_mg(hub, lab, client):
    ok = item(1, value=50.0, lod=10.0, loq=20.0, unit="µg/kg", limit=0.1, limit_unit="mg/kg")
    assert post(client, hub.url, lab, batch([ok])).status_code == 201
    bad = item(2, analyte="X", value=150.0, lod=10.0, loq=20.0, unit="µg/kg", limit=0.1, limit_unit="mg/kg")
    assert_problem(post(client, hub.url, lab, batch([bad], sample="S2"), idem="LAB1:result:2"), 422,
                   "limit_consistent")


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_anywhere_is_refused(hub, lab, client, token):
    body = encode(batch([item(1)])).replace(b'"value": 0.05', b'"value": ' + token)
    assert token in body
    assert_problem(post(client, hub.url, lab, body), 422, "json.not_finite")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{}", b"{not json", b"\xff\xfe",
                                  json.dumps({"schema": "cn-agri-residue/2", "lab": 5, "results": "x"}).encode()])
def test_wrongly_typed_json_is_a_problem_never_a_500(hub, lab, client, body):
    r = post(client, hub.url, lab, body)
    assert r.status_code in (400, 422) and r.json()["rule"] in ("json.syntax", "schema"), r.text


def test_schema_problem_names_the_field(hub, lab, client):
    doc = batch([item(1)])
    doc["results"][0]["result"]["unit"] = 7
    r = assert_problem(post(client, hub.url, lab, doc), 422, "schema", "/results/0/result/unit")
    assert r["errors"]


def test_a_message_in_flight_is_409_then_stored_receipt(hub, lab, client):
    doc = batch([item(1)])
    digest = hashlib.sha256(encode(doc)).hexdigest()
    with session_scope(hub.factory, actor="t") as s:  # another hub process claimed the key and is storing
        s.execute(insert(HubReceipt.__table__).values(lab_code="LAB1", idempotency_key="LAB1:result:1",
                                                      payload_sha256=digest, received_at=utcnow(),
                                                      state="in_flight", claimed_at=utcnow(), message_lab="LAB1",
                                                      schema="", results=0))
    r = post(client, hub.url, lab, doc)
    assert_problem(r, 409, "idempotency.in_flight")
    assert r.headers["retry-after"] == "1"


def test_duplicate_deliveries_are_stored_once(hub, lab, client):
    docs = [batch([item(i)], sample=f"S{i}") for i in range(1, 6)]
    for _round in range(3):
        for i, doc in enumerate(docs, 1):
            assert post(client, hub.url, lab, doc, idem=f"LAB1:result:{i}").status_code in (200, 201)
    assert count(hub, HubReceipt) == 5 and count(hub, HubResult) == 5


def test_key_rotation_mid_backlog(hub, lab, client):
    new = Ed25519PrivateKey.generate()
    for i in range(1, 4):  # the backlog signed with the old key
        assert post(client, hub.url, lab, batch([item(i)], sample=f"S{i}"), idem=f"LAB1:result:{i}").status_code == 201
    with session_scope(hub.factory, actor="hub:admin") as s:
        add_lab_key(s, "LAB1", public_key_pem(new))  # rotation: both verify
    assert post(client, hub.url, new, batch([item(4)], sample="S4"), idem="LAB1:result:4").status_code == 201
    assert post(client, hub.url, lab, batch([item(5)], sample="S5"), idem="LAB1:result:5").status_code == 201
    with session_scope(hub.factory, actor="hub:admin") as s:
        retire_key(s, "LAB1", fingerprint(lab))
    assert_problem(post(client, hub.url, lab, batch([item(6)], sample="S6"), idem="LAB1:result:6"), 401,
                   "signature.invalid")
    assert post(client, hub.url, new, batch([item(6)], sample="S6"), idem="LAB1:result:6").status_code == 201
    # a re-send of an old message under the new key still gets its stored receipt
    assert post(client, hub.url, new, batch([item(1)], sample="S1"), idem="LAB1:result:1").status_code == 200
    assert count(hub, HubReceipt) == 6


def test_an_amendment_replaces_and_a_retraction_withdraws(hub, lab, client):
    assert post(client, hub.url, lab, batch([item(1), item(2, "ACEPHATE")])).status_code == 201
    amended = batch([item(3, value=0.06, change="amendment", supersedes=1)])
    assert post(client, hub.url, lab, amended, idem="LAB1:result:3").status_code == 201
    retracted = batch([item(4, "ACEPHATE", change="retraction", supersedes=2)])
    assert post(client, hub.url, lab, retracted, idem="LAB1:retraction:4").status_code == 201
    with hub.factory() as s:
        current = s.execute(select(HubResult.result_id, HubResult.value).where(HubResult.current.is_(True))).all()
    assert current == [(3, 0.06)]


def _checkpoint(key: Ed25519PrivateKey, seq: int, chain_hash: str) -> bytes:
    import base64

    from lims.db.audit import canonical_json

    body = {"schema": "lims-audit-checkpoint/1", "lab": "LAB1", "seq": seq, "hash": chain_hash,
            "at": "2026-12-06T12:00:00+00:00", "key": fingerprint(key)}
    return canonical_json({**body, "sig": base64.b64encode(key.sign(canonical_json(body).encode())).decode()}
                          ).encode()


def test_audit_checkpoints_are_kept_and_their_signature_checked(hub, lab, client):
    good = _checkpoint(lab, 10, "a" * 64)
    assert post(client, hub.url, lab, good, idem="LAB1:checkpoint:10").status_code == 201
    forged = good.replace(b"a" * 64, b"b" * 64)  # the chain head rewritten after signing
    assert_problem(post(client, hub.url, lab, forged, idem="LAB1:checkpoint:11"), 422, "checkpoint.signature", "/sig")
    with hub.factory() as s:
        kept = s.execute(select(HubMessage.schema, HubMessage.payload)).all()
    assert kept == [("lims-audit-checkpoint/1", good.decode())]
