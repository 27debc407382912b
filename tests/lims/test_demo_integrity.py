"""Issue 11, done-when: after ``lims demo`` the direct edits listed under Integrity — the signer, a deleted
review signature, a limit value, a role grant, an outbox payload, the audit tail deleted with the triggers
dropped — each make ``lims audit verify`` exit 1 naming what broke, and the demo database's audit trail
holds no secret (argon2 hash, PEM key, token). SQLite: the demo's own database (CONTRACTS.md)."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from lims.cli import main
from lims.config import get_settings
from lims.db import triggers
from lims.demo import run_demo

#: Secrets that must never be in the trail: argon2 hashes and PEM private keys (token digests are checked
#: against the api_token table: a token itself is never stored anywhere).
SECRETS = (re.compile(r"\$argon2(id|i|d)\$"), re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "day"
    summary = run_demo(out)
    assert summary["audit_ok"], summary
    return out


def _copy(demo: Path, tmp_path: Path) -> Path:
    target = tmp_path / "day"
    shutil.copytree(demo, target)
    return target / "lims.db"


def _verify(db: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv("LIMS_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.delenv("LIMS_UPSTREAM_KEY", raising=False)
    monkeypatch.delenv("LIMS_ANCHOR_LOG", raising=False)
    get_settings.cache_clear()
    try:
        code = main(["audit", "verify"])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    return code, out.out + out.err


DROP = "; ".join(triggers.drop_statements("sqlite"))
EDITS = {
    "signer": ("UPDATE signature SET user_id = (SELECT id FROM user_account WHERE username = 'liqiang') "
               "WHERE id = (SELECT MIN(id) FROM signature WHERE meaning = 'approval')", "signature"),
    "review signature deleted": ("DELETE FROM signature WHERE id = (SELECT MIN(id) FROM signature "
                                 "WHERE meaning = 'review')", "signature"),
    "limit value": ("UPDATE limit_entry SET value_mg_kg = value_mg_kg * 10 WHERE id = (SELECT MIN(limit_id) "
                    "FROM result)", "limit_entry"),
    "role grant": ("INSERT INTO user_role (user_id, role) SELECT id, 'approver' FROM user_account "
                   "WHERE username = 'zhangwei'", "user_role"),
    "outbox payload": ("UPDATE outbox_message SET payload = replace(payload, 'non_compliant', 'compliant') "
                       "WHERE kind = 'result'", "outbox_message"),
    "audit tail deleted": (f"{DROP}; DELETE FROM audit_event WHERE seq > (SELECT MAX(seq) - 30 FROM audit_event)",
                           "truncated"),
}


def test_the_demo_database_verifies(demo, tmp_path, monkeypatch, capsys):
    code, text = _verify(_copy(demo, tmp_path), monkeypatch, capsys)
    assert code == 0, text
    assert "anchored at seq" in text


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_direct_edit_of_the_demo_database_is_named(demo, tmp_path, monkeypatch, capsys, edit):
    db = _copy(demo, tmp_path)
    sql, named = EDITS[edit]
    with sqlite3.connect(db) as c:
        c.executescript(sql)
        assert c.total_changes >= 1
    code, text = _verify(db, monkeypatch, capsys)
    assert code == 1, text
    assert named in text, text


def test_the_demo_audit_trail_holds_no_secret(demo):
    with sqlite3.connect(demo / "lims.db") as c:
        trail = "\n".join(f"{o}\n{n}\n{r}" for o, n, r in c.execute("SELECT old, new, reason FROM audit_event"))
        hashes = [h for (h,) in c.execute("SELECT password_hash FROM user_account")]
        hashes += [d for (d,) in c.execute("SELECT digest FROM api_token")]
    assert any(h.startswith("$argon2") for h in hashes)  # the scan looks for what is really there
    for pattern in SECRETS:
        assert not pattern.search(trail), pattern.pattern
    for h in hashes:
        assert h not in trail
    assert "password_hash" in trail  # that a password was set is recorded — as a fingerprint
