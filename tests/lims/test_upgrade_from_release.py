"""A database written by the previous release upgrades to the head revision with its data, and its
audit trail and certified records still verify (tests/data/releases/README.md says where the files
come from). The release's file itself is upgraded (SQLite: the release's demo ran only there; its
rows cannot be replayed into PostgreSQL as they are, since SQLite kept text longer than the declared
VARCHAR lengths, e.g. reading.run_no).

The upgrade procedure of deploy/README.md (Upgrading) is followed as written: `lims backup`, `lims db
upgrade`, `lims audit verify`; and the way back: `lims restore` of that backup gives the release's
database again, verified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from lims.db.engine import make_engine
from lims.db.migrate import current_revisions, head_revisions, upgrade

RELEASES = Path(__file__).resolve().parents[1] / "data" / "releases"
RELEASE_DB = RELEASES / "demo-0008_acq_resend.db"
RELEASE_REPORTS = RELEASES / "demo-0008_acq_resend-reports"
RELEASE_REVISION = "0008_acq_resend"
TEST_DATABASE = os.environ.get("LIMS_TEST_DATABASE", "sqlite")
LIMS = [sys.executable, "-m", "lims.cli"]

pytestmark = pytest.mark.skipif(TEST_DATABASE != "sqlite", reason="the release's SQLite file")


def _install(root: Path) -> Path:
    """The release's demo as it left its folder: ``rel/lims.db`` and ``rel/reports/*.pdf`` (the database
    names its reports by these relative paths, so commands run from ``root``)."""
    (root / "rel").mkdir()
    shutil.copytree(RELEASE_REPORTS, root / "rel" / "reports")
    db = root / "rel" / "lims.db"
    shutil.copyfile(RELEASE_DB, db)
    return db


def _lims(root: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{db}", "LIMS_REPORT_DIR": str(root / "rel" / "reports"),
           "LIMS_AUDIT_STATUS_FILE": str(root / "verify.json")}
    env.pop("LIMS_ANCHOR_LOG", None)
    env.pop("LIMS_UPSTREAM_KEY", None)
    return subprocess.run([*LIMS, *args], capture_output=True, text=True, env=env, cwd=root, timeout=300)


def test_release_sqlite_database_upgrades_and_verifies(tmp_path: Path) -> None:
    db = _install(tmp_path)
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
    proc = _lims(tmp_path, db, "audit", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_upgrade_procedure_backup_upgrade_verify_and_back(tmp_path: Path) -> None:
    db = _install(tmp_path)
    archive = tmp_path / "before-upgrade.tar.gz"
    done = _lims(tmp_path, db, "backup", "--out", str(archive), "--json")
    assert done.returncode == 0, done.stderr
    backed = json.loads(done.stdout)
    assert backed["revision"] == [RELEASE_REVISION] and backed["files"]["report"] == 9
    upgraded = _lims(tmp_path, db, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    verified = _lims(tmp_path, db, "audit", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"], verified.stdout + verified.stderr
    assert json.loads((tmp_path / "verify.json").read_text())["ok"] is True  # for /metrics
    # the way back: the release's database again, from the backup taken before the upgrade
    refused = _lims(tmp_path, db, "restore", str(archive))
    assert refused.returncode == 1 and "--force" in refused.stderr  # never over a database without asking
    back = _lims(tmp_path, db, "restore", str(archive), "--force", "--json")
    assert back.returncode == 0, back.stdout + back.stderr
    assert json.loads(back.stdout)["ok"] is True
    assert current_revisions(make_engine(f"sqlite:///{db}")) == (RELEASE_REVISION,)
