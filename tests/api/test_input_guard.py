"""Hostile and careless input at the edge (issue 11): bodies of bounded size (413 with a problem document,
counted as they stream), validation answers of bounded size that never echo the input, compute inputs
bounded with a 422 naming the limit, text refused when it holds control/bidi/invisible characters, ids and
offsets beyond the database's integers refused with 422, codes no route could reach refused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.input_guard import body_limit_for
from api.schemas import MAX_CURVE_POINTS, MAX_DB_INT, MAX_HOMOGENEITY_ITEMS, MAX_REPLICATES
from lims.config import get_settings
from lims.db.engine import session_scope
from lims.db.models import Lab
from lims.pt.submissions import MAX_ROWS as MAX_PT_ROWS
from lims.services import auth

PASSWORD = "Guard-Test-Passw0rd!"


@pytest.fixture
def client(db_engine, db_factory):
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="LAB1", name="县检测站"))
        s.flush()
        tokens = {}
        for username, role in (("qa", "qa_manager"), ("tech", "technician"), ("admin", "admin"),
                               ("rev", "reviewer")):
            user = auth.create_user(s, username, f"用户{username}", PASSWORD, [role])
            tokens[username] = {"Authorization": f"Bearer {auth.create_bearer_token(s, user).token}"}
    c = TestClient(create_app(db_engine))
    c.hdr = tokens  # type: ignore[attr-defined]
    return c


def test_a_login_body_over_the_limit_is_refused_with_413_before_it_is_read(client):
    limit = get_settings().max_body_bytes
    body = b'{"username": "' + b"a" * (limit + 10) + b'", "password": "x"}'
    r = client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    detail = r.json()["detail"]
    assert detail["code"] == "request.too_large" and detail["limit_bytes"] == limit and detail["field"] == "body"


def test_a_streamed_body_without_content_length_is_counted(client):
    limit = get_settings().max_body_bytes

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    r = client.post("/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"]["code"] == "request.too_large"


def test_upload_routes_have_the_larger_limit():
    s = get_settings()
    assert s.max_upload_bytes > s.max_body_bytes
    assert body_limit_for("/api/v1/pt/rounds/R1/results.csv") == s.max_upload_bytes
    assert body_limit_for("/api/v1/limits/import") == s.max_upload_bytes
    assert body_limit_for("/api/v1/quality/evidence/finding/3", multipart=True) == s.max_upload_bytes  # any file
    assert body_limit_for("/api/v1/auth/login") == s.max_body_bytes
    assert body_limit_for("/api/v1/samples") == s.max_body_bytes


def test_a_validation_answer_lists_at_most_n_problems_and_never_echoes_the_input(client):
    marker = "ECHO-ME-" * 4
    rows = [{"participant_code": "P1", "analyte": "a", "result": "not-a-number", "unit": "mg/kg", "method": marker}
            for _ in range(2000)]
    r = client.post("/api/v1/pt/rounds/R1/results", json={"results": rows}, headers=client.hdr["qa"])
    assert r.status_code == 422
    doc = r.json()
    assert len(doc["detail"]) == get_settings().max_problems and doc["problems_total"] == 2000
    assert marker not in r.text and len(r.content) < 20_000
    assert doc["detail"][0]["field"] == "body.results.0.result" and "loc" in doc["detail"][0]


def test_compute_inputs_are_bounded_with_a_422_naming_the_limit(client):
    n = MAX_CURVE_POINTS + 1
    body = {"analyte_code": "x", "concentrations": [float(i) for i in range(n)],
            "responses": [float(i) for i in range(n)], "model": "4pl"}
    r = client.post("/api/v1/batches/B1/curves", json=body, headers=client.hdr["tech"])
    assert r.status_code == 422
    assert any(str(MAX_CURVE_POINTS) in p["msg"] for p in r.json()["detail"])
    items = [[0.1, 0.1] for _ in range(MAX_HOMOGENEITY_ITEMS + 1)]
    r = client.post("/api/v1/pt/rounds/R1/homogeneity", json={"analyte": "a", "items": items},
                    headers=client.hdr["qa"])
    assert r.status_code == 422 and str(MAX_HOMOGENEITY_ITEMS) in r.json()["detail"][0]["msg"]
    r = client.post("/api/v1/pt/rounds/R1/homogeneity", headers=client.hdr["qa"],
                    json={"analyte": "a", "items": [[0.1] * (MAX_REPLICATES + 1), [0.1, 0.2]]})
    assert r.status_code == 422 and str(MAX_REPLICATES) in r.json()["detail"][0]["msg"]
    rows = [{"participant_code": "P1", "analyte": "a", "result": 0.1, "unit": "mg/kg"}] * (MAX_PT_ROWS + 1)
    r = client.post("/api/v1/pt/rounds/R1/results", json={"results": rows}, headers=client.hdr["qa"])
    assert r.status_code == 422 and str(MAX_PT_ROWS) in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize("value", [2**31, 2**63, 2**64 + 5])
def test_ids_and_offsets_beyond_the_database_integers_are_422(client, value):
    qa = client.hdr["qa"]
    for path in (f"/api/v1/results/{value}", f"/api/v1/producers/{value}/history",
                 f"/api/v1/samples?offset={value}", f"/api/v1/results?offset={value}",
                 f"/api/v1/limits?analyte_id={value}", f"/api/v1/pt/participations/{value}",
                 f"/api/v1/audit/events?offset={value}"):
        r = client.get(path, headers=qa)
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
    r = client.post("/api/v1/results/review", json={"result_ids": [value], "password": PASSWORD},
                    headers=client.hdr["rev"])
    assert r.status_code == 422
    r = client.post(f"/api/v1/analyses/{value}/manual-result", headers=client.hdr["tech"],
                    json={"value_text": "0.1", "unit": "mg/kg", "reason": "entered by hand"})
    assert r.status_code == 422
    assert MAX_DB_INT == 2**31 - 1


def test_a_batch_code_no_route_could_reach_is_refused(client):
    for code in ("B/1", "B 1", "../B", ".B", "B?x"):
        r = client.post("/api/v1/batches", json={"code": code, "method_code": "M", "analysis_ids": [1]},
                        headers=client.hdr["tech"])
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.code", (code, r.text)


BAD_TEXT = {"NUL": "番茄\x00地", "RLO": "番茄\u202e地", "ZWSP": "番茄\u200b地", "BEL": "番茄\x07地",
            "LRI": "\u2066x\u2069"}


@pytest.mark.parametrize("name", sorted(BAD_TEXT))
def test_control_bidi_and_invisible_characters_are_refused_naming_the_field(client, name):
    body = {"code": "S-TEXT-1", "commodity_code": "tomato", "sampled_at": "2026-11-28T08:00:00+08:00",
            "sampling_place": BAD_TEXT[name], "region_code": "110101", "sampling_link": "before_harvest",
            "samplers": ["张三"]}
    r = client.post("/api/v1/samples", json=body, headers=client.hdr["tech"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    if name == "NUL":  # seen as the body streams in (every route), the field still named
        assert detail["field"] == "body.sampling_place" and detail["code"] == "request.nul_character"
    else:
        assert detail[0]["field"] == "body.sampling_place" and "U+" in detail[0]["msg"]


def test_nul_in_anonymous_login_and_forms_is_never_a_500(client):
    r = client.post("/api/v1/auth/login", json={"username": "qa\x00", "password": "x\x00y"})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "request.nul_character", r.text
    r = client.post("/login", data={"username": "qa\x00", "password": "x"}, follow_redirects=False)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "body", r.text
    r = client.post("/reports/issue", data={"sample_code": "S\x00"}, headers=client.hdr["qa"])
    assert r.status_code == 422
    # a JSON "\\u0000" is a backslash and "u0000", not a NUL: accepted as text (then refused for other reasons)
    r = client.post("/api/v1/auth/login", json={"username": "qa\\u0000", "password": "wrong"})
    assert r.status_code != 422 or r.json()["detail"].get("code") != "request.nul_character"


def test_a_nul_split_between_two_chunks_is_seen(client):
    def chunks():
        yield b'{"username": "qa\\u00'
        yield b'00", "password": "x"}'
    r = client.post("/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "request.nul_character"


def test_a_character_the_report_font_cannot_print_is_refused_on_printed_fields(client):
    from lims.text import unprintable

    rare = "\U00020bb7"  # 𠮷: outside WenQuanYi Micro Hei
    if not unprintable(rare):
        pytest.skip("the installed report font prints U+20BB7")
    body = {"code": "S-TEXT-2", "commodity_code": "tomato", "sampled_at": "2026-11-28T08:00:00+08:00",
            "sampling_place": f"{rare}家村", "region_code": "110101", "sampling_link": "before_harvest",
            "samplers": ["张三"]}
    r = client.post("/api/v1/samples", json=body, headers=client.hdr["tech"])
    assert r.status_code == 422 and "U+20BB7" in r.json()["detail"][0]["msg"]
    assert json.dumps(r.json(), ensure_ascii=False).count(f"{rare}家村") == 0


def test_a_big_bad_csv_gets_a_small_answer(client):
    """The reproduction: a 13 MB CSV of bad rows answered 87 MB (every problem, every cell quoted back)."""
    cell = "x" * 5000
    rows = "".join(f"P{i},a,{cell},mg/kg\n" for i in range(2500))  # 12.5 MB, under the upload limit
    body = ("participant_code,analyte,result,unit\n" + rows).encode()
    assert len(body) > 12_000_000
    r = client.post("/api/v1/pt/rounds/R1/results.csv", files={"file": ("r.csv", body, "text/csv")},
                    headers=client.hdr["qa"])
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["problems_total"] == 2500 and len(detail["problems"]) == get_settings().max_problems
    assert len(r.content) < 20_000 and cell not in r.text


def test_the_hub_receiver_limits_its_bodies_too(db_engine):
    from api.hub import create_hub_app

    limit = get_settings().max_upload_bytes
    r = TestClient(create_hub_app(db_engine)).post("/hub/v1/messages", content=b"{" + b" " * limit + b"}")
    assert r.status_code == 413 and r.json()["detail"]["limit_bytes"] == limit


def test_no_integer_parameter_of_any_route_overflows_the_database(db_engine, db_factory):
    """Every integer path or query parameter in the OpenAPI document, given 2^64: a 4xx, never a 500."""
    from lims.db.models import Role

    with session_scope(db_factory, actor="setup") as s:
        if s.query(Lab).count() == 0:
            s.add(Lab(code="LAB1", name="县检测站"))
            s.flush()
        user = auth.create_user(s, "every_role", "全部角色", PASSWORD, [r.value for r in Role])
        token = auth.create_bearer_token(s, user).token
    app = create_app(db_engine)
    c = TestClient(app, raise_server_exceptions=False)
    c.headers.update({"Authorization": f"Bearer {token}"})
    checked = 0
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            params = op.get("parameters", [])
            ints = [p for p in params if p.get("schema", {}).get("type") == "integer"]
            if not ints:
                continue
            url = path
            for p in params:
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(2**64) if p in ints else "X1")
            query = {p["name"]: str(2**64) for p in ints if p["in"] == "query"}
            r = c.request(method.upper(), url, params=query, json={})
            assert r.status_code < 500 and r.status_code != 200, (method, url, query, r.status_code, r.text[:200])
            checked += 1
    assert checked >= 10


def test_a_full_name_the_report_font_cannot_print_is_refused(db_factory):
    """A signer's printed name appears on every report they sign: refused at account creation."""
    from lims.services.errors import InvalidInput
    from lims.text import unprintable

    rare = "\U00020bb7"
    with session_scope(db_factory, actor="setup") as s:
        s.add(Lab(code="LAB1", name="县检测站"))
        s.flush()
        for bad in ("王\u202e五", "王\x00五") + ((f"{rare}五",) if unprintable(rare) else ()):
            with pytest.raises(InvalidInput) as refused:
                auth.create_user(s, "wangwu", bad, PASSWORD, ["technician"])
            assert refused.value.field == "full_name" and "U+" in str(refused.value)
