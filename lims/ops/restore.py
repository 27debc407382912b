"""`lims restore ARCHIVE`: put a `lims backup` archive (lims/ops/backup.py) back, and prove it is intact.

1. Every member is read by the name the manifest gives (never by the tar's own paths) and must match the
   manifest's SHA-256 and size; a member not listed, a listed one missing, a link or a path leaving the
   archive's folders refuses the whole archive before anything is written.
2. Report PDFs, keys and other files go back to where they came from (a report: the path its database row
   names, relative paths from the current folder — run restore where `lims serve` runs); controlled documents'
   files into ``LIMS_DOCUMENTS_DIR`` and evidence files and calibration certificates into ``LIMS_EVIDENCE_DIR``,
   each only if its content has the SHA-256 it is named by; a different file
   already there is refused unless ``--force``.
3. The database: SQLite is staged beside its target and checked first; PostgreSQL is restored with
   ``pg_restore`` into the target database, which must be empty (``--force``: its objects are dropped).
4. `lims audit verify` runs on the restored database with the restored anchor log and key: the hash chain,
   the checkpoints, the covered rows, the certified records and every report file against its stored
   SHA-256; then every document version's file in ``LIMS_DOCUMENTS_DIR`` against the SHA-256 its row
   recorded, and the evidence folder (every evidence row's file, every certificate file there).
   SQLite is put in place only when that passes; a PostgreSQL restore that fails it is reported
   (exit 1) and must not be served.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from lims.config import Settings
from lims.ops.backup import FORMAT, MANIFEST, BackupError, anchor_log, libpq_url, pg_env, sha256_of

FOLDERS = ("database", "anchors", "reports", "documents", "evidence", "files", "keys")


@dataclass(frozen=True)
class RestoreResult:
    backend: str
    revision: list[str]
    files: int
    verify_ok: bool
    verify_message: str


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return (not path.is_absolute() and ".." not in path.parts and len(path.parts) >= 2
            and path.parts[0] in FOLDERS)


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        doc = json.loads(handle.read().decode("utf-8")) if handle else None
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"不是有效的备份 / not a lims backup: no readable {MANIFEST} ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f"不是有效的备份 / not a lims backup: manifest format is not {FORMAT}")
    return doc


def read_archive(archive: Path, staging: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The manifest and {member name: staged file}, every member checked against the manifest."""
    try:
        tar = tarfile.open(archive, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"无法读取备份 / cannot read the archive {archive}: {exc}") from None
    with tar:
        doc = _manifest(tar)
        expected = {f["name"]: f for f in doc.get("files", [])}
        staged: dict[str, Path] = {}
        for member in tar:
            if member.name == MANIFEST:
                continue
            if member.name not in expected or not _safe(member.name):
                raise BackupError(f"备份被篡改 / tampered archive: {member.name!r} is not in the manifest")
            if not member.isreg():
                raise BackupError(f"备份被篡改 / tampered archive: {member.name!r} is not a regular file")
            target = staging / f"m{len(staged):06d}"
            with tar.extractfile(member) as src, target.open("wb") as dst:  # type: ignore[union-attr]
                shutil.copyfileobj(src, dst, 1 << 20)
            want = expected[member.name]
            if sha256_of(target) != want["sha256"] or target.stat().st_size != want["bytes"]:
                raise BackupError(f"备份被篡改 / tampered archive: {member.name} does not match its SHA-256 "
                                  "in the manifest")
            staged[member.name] = target
    missing = sorted(set(expected) - set(staged))
    if missing:
        raise BackupError(f"备份不完整 / incomplete archive: {missing[0]} is listed but absent")
    return doc, staged


def _place(source: Path, target: Path, *, force: bool) -> None:
    """Copy ``source`` to ``target`` (atomically); an existing different file is refused without ``force``."""
    if target.is_file() and sha256_of(target) == sha256_of(source):
        return
    if target.exists() and not force:
        raise BackupError(f"目标已存在 / {target} exists and differs from the archive's copy (use --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _files(doc: dict[str, Any], staged: dict[str, Path], settings: Settings, *, force: bool) -> tuple[int, Path | None]:
    """Reports, documents, evidence, other files and keys back in place; returns (count, restored lab key or
    None)."""
    from lims.quality.audits import evidence_dir

    placed, lab_key = 0, None
    for f in doc["files"]:
        if f["kind"] in ("report", "file"):
            _place(staged[f["name"]], Path(f["origin"]), force=force)
            placed += 1
        elif f["kind"] in ("document", "evidence"):
            sha = PurePosixPath(f["name"]).name
            if f["sha256"] != sha:  # the manifest matched the member, but the member is not the file it names
                raise BackupError(f"备份被篡改 / tampered archive: {f['name']} is not the {f['kind']} file of that "
                                  "SHA-256")
            folder = Path(settings.documents_dir) if f["kind"] == "document" else evidence_dir(settings)
            _place(staged[f["name"]], folder / sha, force=force)
            placed += 1
        elif f["kind"] == "key":
            configured = settings.upstream_key if f["name"] == "keys/upstream.pem" else settings.hub_key
            target = Path(configured or f["origin"])
            _place(staged[f["name"]], target, force=force)
            os.chmod(target, 0o600)
            lab_key = target if f["name"] == "keys/upstream.pem" else lab_key
            placed += 1
    return placed, lab_key


def verify(url: str, anchors: Path | None, lab_key: Path | None, scratch: Path) -> tuple[bool, str]:
    """`lims audit verify --json` on ``url`` with the given anchor log and key (a process of its own, so
    the settings it reads are exactly these)."""
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_AUDIT_STATUS_FILE": str(scratch / "verify.json"),
           "LIMS_ANCHOR_LOG": str(anchors or scratch / "no-anchors.log")}
    if lab_key is not None:
        env["LIMS_UPSTREAM_KEY"] = str(lab_key)
    done = subprocess.run([sys.executable, "-m", "lims.cli", "audit", "verify", "--json"], env=env,
                          capture_output=True, text=True, timeout=3600)
    try:
        report = json.loads(done.stdout)
        return bool(report["ok"]), str(report["message"])
    except (ValueError, KeyError):
        return False, (done.stderr.strip().splitlines() or ["audit verify gave no answer"])[-1]


def verify_all(url: str, anchors: Path | None, lab_key: Path | None, scratch: Path,
               settings: Settings) -> tuple[bool, str]:
    """:func:`verify`, then every document version's file and the evidence folder against the recorded
    SHA-256s."""
    ok, message = verify(url, anchors, lab_key, scratch)
    if not ok:
        return ok, message
    from lims.db.engine import make_engine
    from lims.quality import audits, documents
    from lims.quality.audits import evidence_dir

    engine = make_engine(url)
    try:
        with Session(engine) as s:
            problems = [*documents.file_problems(s, Path(settings.documents_dir)),
                        *audits.file_problems(s, evidence_dir(settings))]
    finally:
        engine.dispose()
    if problems:
        extra = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return False, problems[0] + extra
    return True, f"{message}; document and evidence files match their SHA-256"


def _sqlite(engine: Engine, staged_db: Path, anchors: Path | None, lab_key: Path | None, work: Path,
            settings: Settings, *, force: bool) -> tuple[bool, str]:
    target = Path(str(engine.url.database))
    if target.exists() and not force:
        raise BackupError(f"目标数据库已存在 / the database {target} exists (use --force to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(staged_db, stage)
    staged_anchors = None
    if anchors is not None:
        staged_anchors = stage.with_name(stage.name + ".anchors")
        shutil.copyfile(anchors, staged_anchors)
    ok, message = verify_all(_at_head(stage, work), staged_anchors, lab_key, work, settings)
    if not ok:
        for p in (stage, staged_anchors, Path(f"{stage}-wal"), Path(f"{stage}-shm")):
            if p is not None:
                p.unlink(missing_ok=True)
        return False, message
    engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(stage, target)
    if staged_anchors is not None:
        _move(staged_anchors, anchor_log(engine, settings) or target.with_name(target.name + ".anchors"))
    return True, message


def _at_head(stage: Path, work: Path) -> str:
    """URL of the staged database to verify: itself at the head revision, else an upgraded copy (this code
    verifies its own schema; the copy proves the older trail and records intact — the upgrade keeps them)."""
    from lims.db.engine import make_engine
    from lims.db.migrate import current_revisions, head_revisions, upgrade

    engine = make_engine(f"sqlite:///{stage}")
    try:
        if set(current_revisions(engine)) == set(head_revisions()):
            return f"sqlite:///{stage}"
    finally:
        engine.dispose()
    copy = work / "upgraded-copy.db"
    source, target = sqlite3.connect(stage), sqlite3.connect(copy)
    with target:
        source.backup(target)
    source.close()
    target.close()
    engine = make_engine(f"sqlite:///{copy}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return f"sqlite:///{copy}"


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))


def _postgres(engine: Engine, staged_db: Path, anchors: Path | None, lab_key: Path | None, work: Path,
              settings: Settings, *, force: bool) -> tuple[bool, str]:
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        tables = conn.execute(text("SELECT count(*) FROM information_schema.tables "
                                   "WHERE table_schema = current_schema()")).scalar_one()
    if tables and not force:
        engine.dispose()
        raise BackupError(f"目标数据库非空 / the database {engine.url.render_as_string(hide_password=True)} holds "
                          f"{tables} tables (restore into an empty database, or use --force to drop them)")
    if tables:  # --force: the schema emptied as a whole (pg_restore --clean trips over partitions' keys)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = engine.url
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
               f"--dbname={libpq_url(url.set(password=None))}", str(staged_db)]
    done = subprocess.run(command, env=pg_env(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败 / pg_restore failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    log = None
    if anchors is not None:
        log = anchor_log(engine, settings) or work / "anchors.log"
        _place(anchors, log, force=True)  # the checkpoints of the restored trail (a newer log would not match)
    from lims.db.migrate import current_revisions, head_revisions

    at, heads = current_revisions(engine), head_revisions()
    engine.dispose()
    if set(at) != set(heads):
        return False, (f"restored at revision {', '.join(at)}, older than this version's {', '.join(heads)}: "
                       "not verified — run `lims db upgrade`, then `lims audit verify`")
    return verify_all(url.render_as_string(hide_password=False), log, lab_key, work, settings)


def restore(archive: Path, engine: Engine, settings: Settings | None = None, *, force: bool = False) -> RestoreResult:
    """Restore ``archive`` into the database of ``engine`` and the file system (module docstring)."""
    settings = settings or Settings()
    backend = engine.url.get_backend_name()
    with tempfile.TemporaryDirectory(prefix="lims-restore-") as tmp:
        work = Path(tmp)
        doc, staged = read_archive(archive, work)
        if doc.get("backend") != backend:
            raise BackupError(f"数据库类型不符 / the archive holds a {doc.get('backend')} database, the target "
                              f"is {backend}")
        db_member = next(f["name"] for f in doc["files"] if f["kind"] == "database")
        anchors = next((staged[f["name"]] for f in doc["files"] if f["kind"] == "anchors"), None)
        placed, lab_key = _files(doc, staged, settings, force=force)
        restore_db = _sqlite if backend == "sqlite" else _postgres
        ok, message = restore_db(engine, staged[db_member], anchors, lab_key, work, settings, force=force)
    return RestoreResult(backend, list(doc.get("revision", [])), placed, ok, message)
