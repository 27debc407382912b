"""Hub operator tokens (issue 14): the hub's read and registry routes require ``Authorization: Bearer``
(401 problem+json without, with a wrong or a revoked token); the non-compliant publication and health stay
public; the signed lab routes keep authenticating by signature. The lab registry over the API (add, rotate,
retire) and ``lims hub token create|revoke`` (only the SHA-256 stored)."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from lims.cli import main
from lims.db.engine import session_scope
from lims.db.models_hub import HubToken
from lims.demo.loopback import LoopbackHub
from lims.hub.tokens import create_token, revoke_token
from lims.upstream.signing import fingerprint, public_key_pem
from tests.integration.hub_support import batch, item, post

PROTECTED = ["/hub/v1/labs", "/hub/v1/stats", "/hub/v1/alerts", "/hub/v1/producers", "/hub/labs"]
PUBLIC = ["/hub/v1/non-compliant", "/hub/v1/non-compliant.csv", "/hub/public/non-compliant", "/hub/v1/health"]


@pytest.fixture
def hub(db_url):
    with LoopbackHub(db_url) as h:
        yield h


@pytest.fixture
def token(hub):
    with session_scope(hub.factory, actor="test") as s:
        return create_token(s, "ops")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["rule"] in ("auth.token_missing", "auth.token_invalid")


def test_read_routes_need_a_token_and_publication_stays_public(hub, token):
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        for path in PROTECTED:
            assert_401(c.get(path))
            assert_401(c.get(path, headers=bearer(token + "x")))
            assert_401(c.get(path, headers={"Authorization": f"Basic {token}"}))
            assert c.get(path, headers=bearer(token)).status_code == 200, path
        for path in PUBLIC:
            assert c.get(path).status_code == 200, path
        for method, path in [("POST", "/hub/v1/labs"), ("POST", "/hub/v1/labs/LAB1/keys/ab/retire")]:
            assert_401(c.request(method, path, json={}))
            assert_401(c.request(method, path, json={}, headers=bearer("nope")))


def test_revoked_token_is_refused_and_a_new_one_works(hub, token):
    with session_scope(hub.factory, actor="test") as s:
        revoke_token(s, "ops")
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        assert_401(c.get("/hub/v1/stats", headers=bearer(token)))
        with session_scope(hub.factory, actor="test") as s:
            fresh = create_token(s, "ops")
        assert fresh != token
        assert c.get("/hub/v1/stats", headers=bearer(fresh)).status_code == 200
        assert_401(c.get("/hub/v1/stats", headers=bearer(token)))


def test_lab_add_rotate_retire_over_the_api(hub, token):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    h = bearer(token)
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        r = c.post("/hub/v1/labs", headers=h, json={"code": "LAB1", "public_key_pem": public_key_pem(old),
                                                   "region": "330100", "name": "杭州站"})
        assert r.status_code == 200, r.text
        assert (r.json()["code"], r.json()["region_code"], r.json()["name"]) == ("LAB1", "330100", "杭州站")
        assert post(c, hub.url, old, batch([item(1)]), idem="LAB1:m:1").status_code == 201
        r = c.post("/hub/v1/labs", headers=h, json={"code": "LAB1", "public_key_pem": public_key_pem(new)})
        assert [k["fingerprint"] for k in r.json()["keys"]] == [fingerprint(old), fingerprint(new)]
        r = c.post(f"/hub/v1/labs/LAB1/keys/{fingerprint(old)}/retire", headers=h)
        assert r.status_code == 200, r.text
        retired = {k["fingerprint"]: k["retired_at"] for k in r.json()["keys"]}
        assert retired[fingerprint(old)] is not None and retired[fingerprint(new)] is None
        assert post(c, hub.url, old, batch([item(2)]), idem="LAB1:m:2").status_code == 401
        assert post(c, hub.url, new, batch([item(3)]), idem="LAB1:m:3").status_code == 201
        listed = c.get("/hub/v1/labs", headers=h).json()
        assert [lab["code"] for lab in listed] == ["LAB1"]
        bad = c.post("/hub/v1/labs", headers=h, json={"code": "LAB2", "public_key_pem": "not a key"})
        assert bad.status_code == 422 and bad.json()["rule"] == "hub.key_invalid", bad.text
        missing = c.post("/hub/v1/labs/LAB1/keys/0000/retire", headers=h)
        assert missing.status_code == 404 and missing.json()["rule"] == "hub.key_not_found", missing.text


def test_cli_token_create_and_revoke(hub, monkeypatch, capsys):
    monkeypatch.setenv("LIMS_HUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    assert main(["hub", "token", "create", "cli-ops", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    with hub.factory() as s:
        row = s.execute(select(HubToken).where(HubToken.name == "cli-ops")).scalar_one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_sha256
    with httpx.Client(base_url=hub.url, timeout=10) as c:
        assert c.get("/hub/v1/alerts", headers=bearer(token)).status_code == 200
        assert main(["hub", "token", "create", "cli-ops"]) == 2  # an active token of that name exists
        assert main(["hub", "token", "revoke", "cli-ops"]) == 0
        assert_401(c.get("/hub/v1/alerts", headers=bearer(token)))
    assert main(["hub", "token", "revoke", "nobody"]) == 2
