"""Pooled connections: a PostgreSQL connection idle past PING_AFTER_IDLE_S is pinged at checkout, so a
server-side disconnect (server restart, idle-session timeout, a DBA's pg_terminate_backend) costs a new
connection, not a failed request; a busy connection is not pinged (no round trip per request)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lims.db import engine as engine_mod


def test_a_connection_killed_while_idle_is_replaced_at_checkout(db_engine, monkeypatch):
    if db_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection pool")
    with db_engine.connect() as c:
        victim = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = engine_mod.make_engine(db_engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as killer:
            assert killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim}).scalar_one()
    finally:
        other.dispose()
    monkeypatch.setattr(engine_mod, "PING_AFTER_IDLE_S", 0.0)
    with db_engine.connect() as c:  # would fail with "terminating connection" without the ping
        assert c.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim


def test_a_busy_connection_is_not_pinged(db_engine, monkeypatch):
    if db_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection pool")
    with db_engine.connect() as c:
        c.execute(text("SELECT 1"))
    pings: list[object] = []
    ping = db_engine.dialect.do_ping
    monkeypatch.setattr(db_engine.dialect, "do_ping", lambda conn: pings.append(conn) or ping(conn))
    monkeypatch.setattr(engine_mod, "PING_AFTER_IDLE_S", 3600.0)
    with db_engine.connect() as c:
        c.execute(text("SELECT 2"))
    assert pings == []
    monkeypatch.setattr(engine_mod, "PING_AFTER_IDLE_S", 0.0)  # the same checkout once idle long enough
    with db_engine.connect() as c:
        c.execute(text("SELECT 3"))
    assert len(pings) == 1
