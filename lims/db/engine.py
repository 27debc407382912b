"""Engine and session factory for SQLite (embedded default, WAL mode) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lims.config import get_settings


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as psycopg 3 URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str | None = None, **kwargs: object) -> Engine:
    url = normalise_url(url or get_settings().database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy emit BEGIN so SQLite write transactions are explicit (pysqlite quirk).
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # A write takes the write lock at BEGIN (one writer appends to the audit chain at a time); a
            # read-only session (make_session_factory(...).read) reads a WAL snapshot without it.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    # Multi-row INSERTs in pages of 10 rows: the statement stays short enough for psycopg to cache its
    # parsed form, so 1,000 new rows re-use one conversion instead of re-parsing thousands of
    # placeholders per page (measured in bench/bench_lifecycle.py --profile).
    kwargs.setdefault("insertmanyvalues_page_size", 10)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _mark_idle)
    event.listen(engine, "checkout", lambda dbapi_conn, record, _proxy: _ping_if_idle(engine, dbapi_conn, record))
    return engine


#: A pooled PostgreSQL connection idle longer than this is pinged before use; a busy one is not (a ping
#: per request is a round trip per request). A connection that breaks while in use invalidates the pool.
PING_AFTER_IDLE_S = 10.0


def _mark_idle(_dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine, dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
        return
    try:
        engine.dialect.do_ping(dbapi_conn)  # SQLAlchemy's own pre-ping (SELECT 1 in autocommit)
    except Exception as e:  # the server restarted or the link dropped: the pool opens a new connection
        raise exc.DisconnectionError(str(e)) from e


#: Execution option marking a read-only engine (see make_session_factory).
READ_ONLY = "lims_read_only"


class SessionFactory(sessionmaker[Session]):
    """``factory()`` opens a unit of work; ``factory.read()`` opens a read-only session.

    A read-only session costs no transaction round trips on PostgreSQL (autocommit: no BEGIN/ROLLBACK;
    each statement sees committed data) and no write lock on SQLite. It refuses to flush, so a read path
    can never write — least of all outside the audit trail."""

    read: sessionmaker[Session]


def _refuse_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    raise RuntimeError("read-only session: writes go through session_scope()")


def make_session_factory(engine: Engine) -> SessionFactory:
    factory = SessionFactory(engine, expire_on_commit=False)
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    factory.read = sessionmaker(engine.execution_options(**options), expire_on_commit=False, autoflush=False)
    event.listen(factory.read, "before_flush", _refuse_flush)
    return factory


@contextmanager
def session_scope(factory: sessionmaker[Session], *, actor: str, reason: str | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error. ``actor`` goes into the audit trail."""
    session = factory()
    session.info["actor"] = actor
    if reason:
        session.info["reason"] = reason
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
