"""Apply Alembic migrations (``lims db upgrade``) on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

from lims.db.engine import normalise_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (its transaction is rolled back)."""


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Migrate to ``revision`` in one transaction.

    On SQLite, Alembic's batch mode rebuilds a table (create a copy, move the rows, drop the old one,
    rename) — the procedure of SQLite's "Making Other Kinds Of Table Schema Changes", whose first step
    is to switch foreign keys off: with them on, dropping a table that other rows reference fails on any
    database that holds data. They are switched off for the migration (the pragma is a no-op inside a
    transaction, so it goes to the driver connection before BEGIN), checked with ``foreign_key_check``
    before commit, and switched on again."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.dbapi_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _fk = broken[0]
        raise MigrationError(f"migration left {len(broken)} broken foreign key(s); first: {table} row "
                             f"{rowid} refers to a missing {parent} row")


def current_revisions(engine: Engine) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))


def head_revisions() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))
