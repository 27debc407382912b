"""A database written by the previous release upgrades to the head revision with its data, and its
audit trail and certified records still verify (tests/data/releases/README.md says where the file
comes from). The release's file itself is upgraded (SQLite: the release's demo ran only there; its
rows cannot be replayed into PostgreSQL as they are, since SQLite kept text longer than the declared
VARCHAR lengths, e.g. reading.run_no)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from lims.db.engine import make_engine
from lims.db.migrate import current_revisions, head_revisions, upgrade

RELEASE_DB = Path(__file__).resolve().parents[1] / "data" / "releases" / "demo-0008_acq_resend.db"
RELEASE_REVISION = "0008_acq_resend"
TEST_DATABASE = os.environ.get("LIMS_TEST_DATABASE", "sqlite")
LIMS = [sys.executable, "-m", "lims.cli"]


def _verify(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIMS_DATABASE_URL": url}
    return subprocess.run([*LIMS, "audit", "verify"], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.skipif(TEST_DATABASE != "sqlite", reason="the release's SQLite file")
def test_release_sqlite_database_upgrades_and_verifies(tmp_path: Path) -> None:
    db = tmp_path / "lims.db"
    shutil.copyfile(RELEASE_DB, db)
    engine = make_engine(f"sqlite:///{db}")
    assert current_revisions(engine) == (RELEASE_REVISION,)
    with engine.connect() as c:
        before = c.execute(text("SELECT count(*) FROM result")).scalar_one()
    upgrade(engine)
    assert current_revisions(engine) == head_revisions()
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM result")).scalar_one() == before
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1  # switched on again
    engine.dispose()
    proc = _verify(f"sqlite:///{db}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
