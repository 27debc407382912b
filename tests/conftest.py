"""Database fixtures: every test that asks for ``db_engine`` runs on the database named by
LIMS_TEST_DATABASE — ``sqlite`` (default; a fresh file per test, copied from a migrated template)
or a PostgreSQL URL (one schema per test run, migrated once, truncated before each test).
Such tests are marked ``db`` automatically; `tools/test.sh` runs them on both databases."""

from __future__ import annotations

import os

# Cheap argon2 parameters for the suite (correctness, not security, is under test here); set before
# lims.config's settings are first read. Production keeps argon2-cffi's defaults.
os.environ.setdefault("LIMS_ARGON2_TIME_COST", "1")
os.environ.setdefault("LIMS_ARGON2_MEMORY_KIB", "1024")

import shutil  # noqa: E402
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from lims.db import audit, triggers
from lims.db.engine import make_engine, make_session_factory, normalise_url
from lims.db.migrate import upgrade
from lims.db.models import Base

TEST_DATABASE = os.environ.get("LIMS_TEST_DATABASE", "sqlite")
DB_FIXTURES = {"db_engine", "db_factory", "db_url"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database tests run on: {'SQLite' if TEST_DATABASE == 'sqlite' else 'PostgreSQL'}"


@pytest.fixture(scope="session")
def _db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if TEST_DATABASE == "sqlite":
        path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()  # closing the last connection checkpoints the WAL into the file
        yield str(path)
        return
    schema = f"lims_test_{uuid.uuid4().hex[:10]}"
    base = normalise_url(TEST_DATABASE)
    admin = make_engine(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def db_url(_db_template: str, tmp_path: Path) -> str:
    """URL of a clean, migrated database for this test."""
    if TEST_DATABASE == "sqlite":
        target = tmp_path / "lims.db"
        shutil.copyfile(_db_template, target)
        return f"sqlite:///{target}"
    engine = make_engine(_db_template)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as c:
        # TRUNCATE is refused by triggers (0016): drop them, empty the tables, and put them back (a test may
        # also have dropped the immutability triggers: tamper tests)
        for stmt in triggers.drop_statements("postgresql"):
            c.execute(text(stmt))
        c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for stmt in triggers.create_statements("postgresql"):
            c.execute(text(stmt))
    engine.dispose()
    return _db_template


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    audit.install()
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture(autouse=True)
def _fresh_password_throttles() -> None:
    """The login and e-signature throttles live in the process (lims.services.throttle): each test starts
    with none of another test's failures counted."""
    from lims.services import throttle

    throttle.reset()


@pytest.fixture
def login():
    """``login(client, username)`` → bearer headers for a demo user (lims.demo.PASSWORDS)."""
    from lims.demo import PASSWORDS

    def _login(client, username: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORDS[username]})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return _login
