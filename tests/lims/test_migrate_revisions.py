"""Where a database stands, read without Alembic, agrees with Alembic's own answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from lims.db import migrate
from lims.db.migrate import alembic_config, current_revisions, head_revisions


def test_heads_from_file_text_equal_alembics_heads():
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert head_revisions() == tuple(sorted(heads))
    assert len(head_revisions()) == 1


def test_heads_follow_merges_and_branches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    versions = tmp_path / "versions"
    versions.mkdir()
    files = {"a": ("'a'", "None"), "b": ("'b'", "'a'"), "c": ("'c'", "'a'"), "d": ("'d'", "('b', 'c')"),
             "e": ("'e'", "'d'"), "f": ("'f'", "'a'")}
    for name, (rev, down) in files.items():
        (versions / f"{name}.py").write_text(f"revision: str = {rev}\ndown_revision = {down}\n")
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    assert head_revisions() == ("e", "f")


def test_current_revisions_match_alembics(db_engine):
    with db_engine.connect() as conn:
        alembic_says = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    assert current_revisions(db_engine) == alembic_says == head_revisions()


def test_empty_database_has_no_revision(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert current_revisions(engine) == ()
    engine.dispose()


def test_reading_revisions_does_not_import_alembic(db_url):
    code = ("import sys; from lims.db.engine import make_engine; from lims.db.migrate import "
            f"current_revisions, head_revisions; e = make_engine({db_url!r}); "
            "assert current_revisions(e) == head_revisions(), (current_revisions(e), head_revisions()); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
