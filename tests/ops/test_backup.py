"""`lims backup` / `lims restore` (issue 17): one archive with a manifest of SHA-256s; a consistent SQLite
snapshot while writers carry on; a restore that refuses a tampered archive (a member that differs from the
manifest, a member the manifest does not list, a report or a database row changed with the manifest
re-written to match) and re-verifies the audit chain and the report hashes; controlled documents' files,
quality evidence files and instruments' calibration certificates carried under their SHA-256 and a forged one
refused; PostgreSQL through pg_dump and pg_restore on a scratch database of the real server."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lims.config import Settings, get_settings
from lims.db import audit
from lims.db.engine import make_engine, make_session_factory, normalise_url, session_scope
from lims.db.migrate import upgrade
from lims.db.models import OutboxMessage
from lims.ops import backup as ops_backup
from lims.ops.backup import BackupError
from lims.ops.restore import read_archive, restore
from lims.quality import audits, documents
from lims.quality import instruments as ins
from lims.services import reporting
from lims.upstream.signing import create_key
from tests.lims.conftest import certified_result

LIMS = [sys.executable, "-m", "lims.cli"]
SOP_FILE = "%PDF-1.7\n气相色谱仪操作规程 第 1 版\n%%EOF\n".encode()
SOP_SHA = hashlib.sha256(SOP_FILE).hexdigest()
EVIDENCE_FILE = "%PDF-1.7\n内部审核 气相色谱原始记录 照片\n%%EOF\n".encode()
EVIDENCE_SHA = hashlib.sha256(EVIDENCE_FILE).hexdigest()
CERTIFICATE = "%PDF-1.7\n校准证书 JZ-2026-0417 农药残留快速检测仪\n%%EOF\n".encode()
CERTIFICATE_SHA = hashlib.sha256(CERTIFICATE).hexdigest()
PG_URL = os.environ.get("LIMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _settings_not_kept():
    """The settings a test's lab cached (its anchor log, key) go with it: a later test reading them would check
    its own audit trail against this lab's checkpoints."""
    yield
    get_settings.cache_clear()


def _lab_env(root: Path, url: str) -> dict[str, str]:
    return {"LIMS_DATABASE_URL": url, "LIMS_REPORT_DIR": str(root / "reports"),
            "LIMS_ANCHOR_LOG": str(root / "anchors.log"), "LIMS_UPSTREAM_KEY": str(root / "keys" / "lab.pem"),
            "LIMS_AUDIT_STATUS_FILE": str(root / "verify.json"), "LIMS_DOCUMENTS_DIR": str(root / "documents"),
            "LIMS_EVIDENCE_DIR": str(root / "evidence")}


def _make_lab(root: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A lab at ``url``: a certified result with its signed checkpoints, an issued report, a controlled
    document's version with its file, an audit's evidence file and an instrument's calibration certificate."""
    env = _lab_env(root, url)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    create_key(Path(env["LIMS_UPSTREAM_KEY"]))
    audit.install()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    certified_result(factory)
    with session_scope(factory, actor="wangfang") as s:
        sample = s.execute(text("SELECT s.code FROM sample s JOIN analysis a ON a.sample_id = s.id "
                                "JOIN result r ON r.analysis_id = a.id WHERE r.status = 'certified'")).scalar_one()
        reporting.issue_report(s, sample, out_dir=root / "reports")
        documents.register(s, code="SOP-GC-01", title="气相色谱仪操作规程", kind="sop")
        documents.draft(s, "SOP-GC-01", version="1.0", content=SOP_FILE, store_dir=Path(env["LIMS_DOCUMENTS_DIR"]))
        audits.attach_evidence(s, owner_kind="audit", owner_id=1, filename="照片.pdf", data=EVIDENCE_FILE)
        check = ins.record_check(s, "EI-01", kind="calibration", performed_on=dt.date(2026, 11, 2), outcome="pass",
                                 recorded_by="wangfang", certificate_no="JZ-2026-0417")
        ins.attach_certificate(s, check.id, CERTIFICATE, "JZ-2026-0417.pdf")
    engine.dispose()
    assert (root / "documents" / SOP_SHA).read_bytes() == SOP_FILE
    assert (root / "evidence" / EVIDENCE_SHA).read_bytes() == EVIDENCE_FILE
    assert (root / "evidence" / CERTIFICATE_SHA).read_bytes() == CERTIFICATE
    assert Path(env["LIMS_ANCHOR_LOG"]).is_file()  # checkpoints were signed and logged
    return env


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIMS, *args], env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _rewrite(archive: Path, out: Path, change: dict[str, bytes | None], *, fix_manifest: bool,
             extra: dict[str, bytes] | None = None) -> None:
    """A copy of ``archive`` with members replaced (None: dropped) or added; ``fix_manifest``: the manifest
    re-written to match, as a careful forger would."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}  # type: ignore[union-attr]
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    members.update(extra or {})
    if fix_manifest:
        doc = json.loads(members["manifest.json"])
        doc["files"] = [f for f in doc["files"] if f["name"] in members]  # a dropped member: its entry too
        for f in doc["files"]:
            if f["name"] in members:
                f["sha256"] = hashlib.sha256(members[f["name"]]).hexdigest()
                f["bytes"] = len(members[f["name"]])
        members["manifest.json"] = json.dumps(doc).encode()
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _member(archive: Path, kind: str) -> tuple[str, bytes]:
    with tarfile.open(archive) as tar:
        doc = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        name = next(f["name"] for f in doc["files"] if f["kind"] == kind)
        return name, tar.extractfile(name).read()  # type: ignore[union-attr]


@pytest.fixture
def sqlite_lab(tmp_path, monkeypatch):
    db = tmp_path / "lab" / "lims.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    env = _make_lab(tmp_path / "lab", f"sqlite:///{db}", monkeypatch)
    archive = tmp_path / "backup.tar.gz"
    done = _cli(env, tmp_path, "backup", "--out", str(archive), "--json")
    assert done.returncode == 0, done.stderr
    yield env, archive, json.loads(done.stdout)
    get_settings.cache_clear()


def _target(tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, str], Path]:
    db = tmp_path / "restored" / "lims.db"
    return {**env, "LIMS_DATABASE_URL": f"sqlite:///{db}", "LIMS_ANCHOR_LOG": str(db) + ".anchors",
            "LIMS_DOCUMENTS_DIR": str(db.parent / "documents"), "LIMS_EVIDENCE_DIR": str(db.parent / "evidence")}, db


def test_sqlite_backup_restores_and_verifies(sqlite_lab, tmp_path):
    env, archive, summary = sqlite_lab
    assert summary["files"] == {"anchors": 1, "database": 1, "document": 1, "evidence": 2, "key": 1, "report": 1}
    assert summary["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds the lab's private key
    target_env, db = _target(tmp_path, env)
    done = _cli(target_env, tmp_path, "restore", str(archive), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert _cli(target_env, tmp_path, "audit", "verify").returncode == 0
    assert (db.parent / "documents" / SOP_SHA).read_bytes() == SOP_FILE  # the document's file came back whole
    _evidence_came_back(db.parent / "evidence", target_env)
    with sqlite3.connect(db) as a, sqlite3.connect(Path(env["LIMS_DATABASE_URL"][10:])) as b:
        q = "SELECT count(*), max(hash) FROM audit_event"
        assert a.execute(q).fetchone() == b.execute(q).fetchone()


def _evidence_came_back(folder: Path, target_env: dict[str, str]) -> None:
    """The evidence file and the certificate are in the target's evidence folder, and read back through it."""
    assert (folder / EVIDENCE_SHA).read_bytes() == EVIDENCE_FILE
    assert (folder / CERTIFICATE_SHA).read_bytes() == CERTIFICATE
    engine = make_engine(target_env["LIMS_DATABASE_URL"])
    try:
        with session_scope(make_session_factory(engine), actor="check") as s:
            check = ins.checks_of(s, "EI-01")[-1]
            assert ins.certificate_file(s, "EI-01", check.id, folder)[1] == CERTIFICATE
            assert audits.file_problems(s, folder) == []
    finally:
        engine.dispose()


def _refused(tmp_path: Path, env: dict[str, str], archive: Path, words: str) -> None:
    target_env, db = _target(tmp_path, env)
    done = _cli(target_env, tmp_path, "restore", str(archive))
    assert done.returncode == 1 and words in done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists(), "nothing of a refused archive is put in place"


def test_a_member_that_differs_from_the_manifest_is_refused(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    name, pdf = _member(archive, "report")
    _rewrite(archive, tmp_path / "t.tar.gz", {name: pdf.replace(b"%PDF", b"%PDX", 1)}, fix_manifest=False)
    _refused(tmp_path, env, tmp_path / "t.tar.gz", "does not match its SHA-256")


def test_members_outside_the_manifest_or_missing_are_refused(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    _rewrite(archive, tmp_path / "x.tar.gz", {}, fix_manifest=False, extra={"../../etc/cron.d/x": b"* * * * *"})
    _refused(tmp_path, env, tmp_path / "x.tar.gz", "not in the manifest")
    name, _ = _member(archive, "key")
    _rewrite(archive, tmp_path / "m.tar.gz", {name: None}, fix_manifest=False)
    _refused(tmp_path, env, tmp_path / "m.tar.gz", "listed but absent")


def test_a_changed_report_with_a_matching_manifest_fails_the_report_hash(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    name, pdf = _member(archive, "report")
    forged = tmp_path / "forged.tar.gz"
    _rewrite(archive, forged, {name: pdf + b"\n% appended\n"}, fix_manifest=True)
    # the report's file goes back to its path: point that elsewhere, so the lab's own copy stays intact
    doc_name, _ = _member(archive, "database")
    assert doc_name == ops_backup.SQLITE_MEMBER
    target_env, db = _target(tmp_path, env)
    Path(env["LIMS_REPORT_DIR"], next(Path(env["LIMS_REPORT_DIR"]).glob("*.pdf")).name).unlink()
    done = _cli(target_env, tmp_path, "restore", str(forged))
    assert done.returncode == 1 and "differs from the PDF issued" in done.stderr, done.stdout + done.stderr
    assert not db.exists()


def test_a_changed_or_dropped_document_file_with_a_matching_manifest_is_refused(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    name, data = _member(archive, "document")
    assert (name, data) == (f"documents/{SOP_SHA}", SOP_FILE)
    _rewrite(archive, tmp_path / "d.tar.gz", {name: data.replace(b"1", b"2")}, fix_manifest=True)
    _refused(tmp_path, env, tmp_path / "d.tar.gz", "is not the document file of that SHA-256")
    assert not (tmp_path / "restored" / "documents" / SOP_SHA).exists()
    _rewrite(archive, tmp_path / "n.tar.gz", {name: None}, fix_manifest=True)  # file and manifest entry gone
    _refused(tmp_path, env, tmp_path / "n.tar.gz", f"document SOP-GC-01 1.0: file {SOP_SHA} is missing")


def _evidence_member(archive: Path, sha: str) -> tuple[str, bytes]:
    with tarfile.open(archive) as tar:
        return f"evidence/{sha}", tar.extractfile(f"evidence/{sha}").read()  # type: ignore[union-attr]


@pytest.mark.parametrize("sha", [EVIDENCE_SHA, CERTIFICATE_SHA], ids=["evidence", "certificate"])
def test_a_forged_evidence_file_or_certificate_with_a_matching_manifest_is_refused(sqlite_lab, tmp_path, sha):
    env, archive, _ = sqlite_lab
    name, data = _evidence_member(archive, sha)
    assert hashlib.sha256(data).hexdigest() == sha
    _rewrite(archive, tmp_path / "e.tar.gz", {name: data.replace(b"PDF", b"PDX")}, fix_manifest=True)
    _refused(tmp_path, env, tmp_path / "e.tar.gz", "is not the evidence file of that SHA-256")
    assert not (tmp_path / "restored" / "evidence" / sha).exists()


def test_a_dropped_evidence_file_is_refused_a_certificate_kept_by_hash_only_is_not(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    name, _ = _evidence_member(archive, EVIDENCE_SHA)
    _rewrite(archive, tmp_path / "n.tar.gz", {name: None}, fix_manifest=True)  # file and manifest entry gone
    _refused(tmp_path, env, tmp_path / "n.tar.gz", f"evidence file {EVIDENCE_SHA} is missing")
    # a certificate recorded before certificate files were kept has its hash only: the restore does not miss it
    name, _ = _evidence_member(archive, CERTIFICATE_SHA)
    _rewrite(archive, tmp_path / "c.tar.gz", {name: None}, fix_manifest=True)
    target_env, db = _target(tmp_path, env)
    done = _cli(target_env, tmp_path, "restore", str(tmp_path / "c.tar.gz"))
    assert done.returncode == 0 and db.exists(), done.stdout + done.stderr


def test_a_changed_database_row_with_a_matching_manifest_fails_the_audit_chain(sqlite_lab, tmp_path):
    env, archive, _ = sqlite_lab
    name, data = _member(archive, "database")
    copy = tmp_path / "copy.db"
    copy.write_bytes(data)
    c = sqlite3.connect(copy)
    for trigger, in c.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        c.execute(f'DROP TRIGGER "{trigger}"')  # what a forger with the file does first
    assert c.execute("UPDATE result SET value = value * 10").rowcount == 1
    c.commit()
    c.close()  # the last connection folds the WAL back into the file
    _rewrite(archive, tmp_path / "db.tar.gz", {name: copy.read_bytes()}, fix_manifest=True)
    target_env, db = _target(tmp_path, env)
    done = _cli(target_env, tmp_path, "restore", str(tmp_path / "db.tar.gz"))
    assert done.returncode == 1 and "does not verify" in done.stderr, done.stdout + done.stderr
    assert not db.exists()


def test_sqlite_snapshot_is_consistent_while_writers_carry_on(db_url, tmp_path, monkeypatch):
    if make_url(db_url).get_backend_name() != "sqlite":
        pytest.skip("the SQLite online backup API")
    env = _make_lab(tmp_path / "lab", db_url, monkeypatch)
    factory = make_session_factory(make_engine(db_url))
    stop = threading.Event()
    written = []

    def writer() -> None:
        while not stop.is_set():
            with session_scope(factory, actor="writer") as s:
                s.add(OutboxMessage(kind="result", idempotency_key=uuid.uuid4().hex, payload="{}"))
            written.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            pass
        result = ops_backup.backup(make_engine(db_url), tmp_path / "live.tar.gz", Settings())
    finally:
        stop.set()
        thread.join()
    assert len(written) > 20
    target_env, db = _target(tmp_path, env)
    monkeypatch.setenv("LIMS_ANCHOR_LOG", target_env["LIMS_ANCHOR_LOG"])
    get_settings.cache_clear()
    done = restore(result.archive, make_engine(target_env["LIMS_DATABASE_URL"]), Settings())
    assert done.verify_ok, done.verify_message


def test_read_archive_refuses_a_file_that_is_no_archive(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tar at all")
    with pytest.raises(BackupError, match="cannot read the archive"):
        read_archive(bogus, tmp_path)


# --------------------------------------------------------------------------------------------- PostgreSQL

def _pg_reachable() -> bool:
    try:
        engine = make_engine(normalise_url(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def scratch_databases():
    """Two scratch databases on the real PostgreSQL server (created here, dropped afterwards)."""
    if not _pg_reachable():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is unreachable")
    admin = make_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    names = [f"lims_ops_{uuid.uuid4().hex[:8]}_{n}" for n in ("src", "dst")]
    with admin.connect() as c:
        for name in names:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(normalise_url(PG_URL))
    yield [base.set(database=n).render_as_string(hide_password=False) for n in names]
    with admin.connect() as c:
        for name in names:
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.mark.slow
def test_postgresql_backup_with_pg_dump_restores_with_pg_restore(scratch_databases, tmp_path, monkeypatch):
    source, target = scratch_databases
    engine = make_engine(source)
    upgrade(engine)
    engine.dispose()
    env = _make_lab(tmp_path / "lab", source, monkeypatch)
    archive = tmp_path / "pg.tar.gz"
    done = _cli(env, tmp_path, "backup", "--out", str(archive), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == "postgresql"
    assert _member(archive, "database")[0] == ops_backup.PG_MEMBER
    target_env = {**env, "LIMS_DATABASE_URL": target, "LIMS_ANCHOR_LOG": str(tmp_path / "restored-anchors.log"),
                  "LIMS_EVIDENCE_DIR": str(tmp_path / "restored-evidence")}
    done = _cli(target_env, tmp_path, "restore", str(archive), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    again = _cli(target_env, tmp_path, "restore", str(archive))
    assert again.returncode == 1 and "restore into an empty database" in again.stderr  # never over data unasked
    assert _cli(target_env, tmp_path, "restore", str(archive), "--force").returncode == 0
    assert _cli(target_env, tmp_path, "audit", "verify").returncode == 0
    _evidence_came_back(tmp_path / "restored-evidence", target_env)
