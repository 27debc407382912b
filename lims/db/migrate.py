"""Apply Alembic migrations (``lims db upgrade``) on SQLite or PostgreSQL.

Reading where a database stands (``current_revisions``, ``head_revisions``) does not import Alembic
(about 10 MB resident): ``lims serve`` checks it at start-up and ``/ready`` on every probe. The version
is the ``alembic_version`` table Alembic keeps; the heads are read from the migration files' text."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from lims.db.engine import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: The table (one column, ``version_num``) where Alembic records the revision(s) a database is at.
VERSION_TABLE = "alembic_version"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

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
    from alembic import command

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
    """The revision(s) recorded in the database's version table (empty: no schema yet)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return ()
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        return tuple(sorted(str(rev) for rev in rows))


def head_revisions() -> tuple[str, ...]:
    """The revisions no other migration builds on, as Alembic's ``ScriptDirectory.get_heads``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names = _module_constants(path)
        if isinstance(names.get("revision"), str):
            revisions.add(names["revision"])
            down = names.get("down_revision")
            parents.update((down,) if isinstance(down, str) else tuple(down or ()))
    return tuple(sorted(revisions - parents))


def _module_constants(path: Path) -> dict[str, object]:
    """Module-level ``name = literal`` assignments of a migration file (``revision``, ``down_revision``)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        if target in ("revision", "down_revision"):
            found[target] = ast.literal_eval(value)
    return found
