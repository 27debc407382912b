"""Issue 11, integrity: direct SQL edits of the rows a certificate rests on are named by ``lims audit verify``;
secrets never reach the audit trail (and those recorded before are redacted without breaking the chain);
signed checkpoints expose a truncated or re-chained trail; TRUNCATE is refused on PostgreSQL. Each edit here
passed verification before this change (reproduced on the demo database, issue 11)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lims.config import get_settings
from lims.db import triggers
from lims.db.audit import GENESIS_HASH, REDACTED_PREFIX, canonical_json, event_hash
from lims.db.engine import make_engine, make_session_factory, normalise_url
from lims.db.migrate import upgrade
from lims.db.models import (
    AuditEvent,
    OutboxMessage,
    User,
)
from lims.db.verify import verify_database

SECRET_MARKS = ("$argon2", "-----BEGIN", "PRIVATE KEY")


@pytest.fixture
def lab_key(tmp_path, monkeypatch):
    """The lab's Ed25519 key and an anchor log of this test (settings read afresh)."""
    key = tmp_path / "keys" / "lab.pem"
    key.parent.mkdir()
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    monkeypatch.setenv("LIMS_UPSTREAM_KEY", str(key))
    monkeypatch.setenv("LIMS_ANCHOR_LOG", str(tmp_path / "anchors.log"))
    get_settings.cache_clear()
    yield tmp_path / "anchors.log"
    get_settings.cache_clear()


def _verify(factory):
    with factory() as s:
        return verify_database(s)


# One direct edit per row kind a certificate rests on: (name, SQL, words the verifier must say).
EDITS = {
    "approval signer": ("UPDATE signature SET user_id = (SELECT id FROM user_account WHERE username = 'liqiang') "
                        "WHERE meaning = 'approval'", "signature"),
    "review signature deleted": ("DELETE FROM signature WHERE meaning = 'review'", "signature"),
    "sample place": ("UPDATE sample SET sampling_place = 'elsewhere' WHERE id = 1", "sample 1"),
    "producer": ("UPDATE producer SET name = 'someone else' WHERE id = 1", "producer 1"),
    "limit value": ("UPDATE limit_entry SET value_mg_kg = 99 WHERE id = 1", "limit_entry 1"),
    "role grant": ("INSERT INTO user_role (user_id, role) SELECT id, 'admin' FROM user_account "
                   "WHERE username = 'zhangwei'", "user_role"),
    "method signatory": ("INSERT INTO method_signatory (method_id, user_id) SELECT m.id, u.id FROM method m, "
                         "user_account u WHERE u.username = 'zhangwei' AND m.id = (SELECT MIN(id) FROM method)",
                         "method_signatory"),
    "password hash": ("UPDATE user_account SET password_hash = 'x' WHERE username = 'liqiang'", "password_hash"),
    "outbox payload": ("UPDATE outbox_message SET payload = replace(payload, '\"evaluation\"', '\"evaluatioN\"') "
                       "WHERE kind = 'result'", "outbox_message"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_direct_edit_of_a_row_a_certificate_rests_on_is_named(db_engine, db_factory, edit, make_certified):
    make_certified(db_factory)
    assert _verify(db_factory).ok
    sql, named = EDITS[edit]
    with db_engine.begin() as c:
        assert c.execute(text(sql)).rowcount >= 1
    check = _verify(db_factory)
    assert not check.ok
    assert named in check.message, check.message


def test_a_signature_by_someone_else_is_named_even_if_the_trail_were_rewritten_to_match(db_engine, db_factory, make_certified):
    """The certified-record check compares the signers with the people the result names."""
    rid = make_certified(db_factory)
    with db_engine.begin() as c:
        c.execute(text("UPDATE signature SET user_id = (SELECT id FROM user_account WHERE username = 'liqiang') "
                       "WHERE meaning = 'approval'"))
    check = _verify(db_factory)
    assert any(f"result {rid}" in p and "approval signature" in p for p in check.problems), check.problems


def test_the_audit_trail_holds_no_secret(db_factory, make_certified):
    make_certified(db_factory)
    with db_factory() as s:
        rows = s.execute(select(AuditEvent.old, AuditEvent.new)).all()
        users = s.execute(select(User.password_hash)).scalars().all()
    assert users and all(h.startswith("$argon2") for h in users)
    trail = "\n".join(o + n for o, n in rows)
    for mark in SECRET_MARKS:
        assert mark not in trail
    for h in users:
        assert h not in trail
    created = [json.loads(n) for o, n in rows if '"password_hash"' in n]
    assert created and all(c["password_hash"].startswith(REDACTED_PREFIX) for c in created)


def test_checkpoints_expose_a_truncated_trail(db_engine, db_factory, lab_key, make_certified):
    make_certified(db_factory)  # approval takes a checkpoint when it commits
    lines = lab_key.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["sig"]
    with db_factory() as s:
        assert s.execute(select(OutboxMessage).where(OutboxMessage.kind == "checkpoint")).scalar_one()
    check = _verify(db_factory)
    assert check.ok and "anchored at seq" in check.message
    with db_engine.begin() as c:
        for stmt in triggers.drop_statements(db_engine.dialect.name):
            c.execute(text(stmt))
        c.execute(text("DELETE FROM audit_event WHERE seq > (SELECT MAX(seq) - 3 FROM audit_event)"))
    check = _verify(db_factory)
    assert not check.ok
    assert "truncated" in " ".join(check.problems), check.problems


def test_checkpoints_expose_a_rechained_trail(db_engine, db_factory, lab_key, make_certified):
    make_certified(db_factory)
    with db_factory() as s:
        events = s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        rows = [(e.id, e.seq, e.at, e.actor, e.action, e.table_name, e.record_id, e.old, e.new, e.reason)
                for e in events]
    with db_engine.begin() as c:
        for stmt in triggers.drop_statements(db_engine.dialect.name):
            c.execute(text(stmt))
        prev = GENESIS_HASH
        for ev_id, seq, at, actor, action, table, record_id, old, new, reason in rows:
            if table == "limit_entry" and action == "create":
                new = re.sub(r'"value_mg_kg":(\d)', r'"value_mg_kg":9\1', new)  # 0.5 → 90.5, say
            h = event_hash(prev, seq, at, actor, action, table, record_id, old, new, reason)
            c.execute(text("UPDATE audit_event SET new = :n, prev_hash = :p, hash = :h WHERE id = :i"),
                      {"n": new, "p": prev, "h": h, "i": ev_id})
            prev = h
    check = _verify(db_factory)
    assert not check.ok
    assert "re-chained" in " ".join(check.problems), check.problems


def test_a_forged_anchor_line_is_named(db_factory, lab_key, make_certified):
    make_certified(db_factory)
    record = json.loads(lab_key.read_text().splitlines()[0])
    record["seq"] = 1
    lab_key.write_text(canonical_json(record) + "\n")
    check = _verify(db_factory)
    assert not check.ok and "signature does not verify" in check.message


def test_lims_audit_anchor_appends_a_signed_checkpoint(db_url, db_factory, lab_key, monkeypatch, capsys, make_certified):
    from lims.cli import main

    make_certified(db_factory)
    monkeypatch.setenv("LIMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    assert main(["audit", "anchor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    with db_factory() as s:
        head = s.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq == out["seq"])).one()
    assert head.hash == out["hash"]
    assert len(lab_key.read_text().splitlines()) == 2
    assert main(["audit", "verify"]) == 0


def test_truncate_is_refused_on_postgresql(db_engine, db_factory, make_certified):
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    make_certified(db_factory)
    for table in ("result", "audit_event", "signature"):
        with pytest.raises(DBAPIError, match="not allowed"):
            with db_engine.begin() as c:
                c.execute(text(f"TRUNCATE {table} CASCADE"))


def _legacy_event(conn, table: str, record_id: str, new: dict) -> None:
    """An event as written before secrets were kept out of the trail (no redaction)."""
    last = conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    at, body = "2026-01-01T00:00:00.000000+00:00", canonical_json(new)
    h = event_hash(prev, seq, at, "demo:setup", "create", table, record_id, "", body, "")
    conn.execute(text("INSERT INTO audit_event (seq, at, actor, action, table_name, record_id, old, new, reason, "
                      "prev_hash, hash) VALUES (:s, :a, 'demo:setup', 'create', :t, :r, '', :n, '', :p, :h)"),
                 {"s": seq, "a": at, "t": table, "r": record_id, "n": body, "p": prev, "h": h})


@pytest.fixture
def empty_url(tmp_path):
    """An empty database of the kind under test (SQLite file, or a fresh PostgreSQL schema)."""
    base = os.environ.get("LIMS_TEST_DATABASE", "sqlite")
    if base == "sqlite":
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    schema = f"lims_legacy_{uuid.uuid4().hex[:10]}"
    admin = make_engine(normalise_url(base))
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{normalise_url(base)}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.db
def test_migration_redacts_recorded_hashes_and_the_chain_still_verifies(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0015_pt_accounts_verify_runs")
    argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    with engine.begin() as c:
        c.execute(text("INSERT INTO lab (id, code, name, address, region_code, cma_number) "
                       "VALUES (1, 'L', 'Lab', '', '', '')"))
        _legacy_event(c, "lab", "1", {"id": 1, "code": "L", "name": "Lab", "address": "", "region_code": "",
                                      "cma_number": ""})
        _legacy_event(c, "user_account", "7", {"id": 7, "username": "liqiang", "password_hash": argon})
        _legacy_event(c, "producer", "1", {"id": 1, "name": "P"})
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        events = s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        redactions = [e for e in events if e.action == "redact"]
        assert "$argon2" not in "".join(e.old + e.new for e in events)
        assert len(redactions) == 1 and redactions[0].record_id == "2"
        fingerprint = hashlib.sha256(argon.encode()).hexdigest()
        assert json.loads(events[1].new)["password_hash"] == f"{REDACTED_PREFIX}{fingerprint}>"
        from lims.db.audit import verify_chain

        assert verify_chain(s).ok
    # a redaction cannot hide an edit: the redacted event's other fields, or a non-secret event, changed
    with engine.begin() as c:
        for stmt in triggers.drop_statements(engine.dialect.name):
            c.execute(text(stmt))
    with engine.begin() as c:
        c.execute(text("UPDATE audit_event SET new = replace(new, 'liqiang', 'mallory') WHERE seq = 2"))
    with factory() as s:
        check = verify_chain(s)
    assert not check.ok and check.first_broken_seq == 2 and "edited after redaction" in check.message
    engine.dispose()
