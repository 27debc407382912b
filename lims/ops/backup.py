"""`lims backup`: one archive file holding everything a lab needs to come back after losing its machine.

The archive (a gzip'd tar) holds ``manifest.json`` and the files it lists with their SHA-256 and size:

* ``database/lims.sqlite3`` — SQLite copied with SQLite's online backup API (a consistent snapshot while
  `lims serve` and `lims acquire` keep writing: https://www.sqlite.org/backup.html), or
  ``database/lims.pgdump`` — ``pg_dump --format=custom`` of the PostgreSQL database (one snapshot);
* ``anchors/…`` — the signed audit checkpoint log (lims/db/anchors.py), copied *before* the database, so
  every checkpoint it holds is covered by the database snapshot;
* ``reports/…`` — every issued report PDF the database names (copied *after* the snapshot: a report's file
  is written before its row commits, so each row of the snapshot finds its file), and whatever else lies
  in ``LIMS_REPORT_DIR``;
* ``documents/<sha256>`` — the file of every controlled document version the database names
  (``LIMS_DOCUMENTS_DIR``, content-addressed; copied after the snapshot, as the reports);
* ``evidence/<sha256>`` — every quality evidence file and every instrument calibration certificate file the
  database names (``LIMS_EVIDENCE_DIR``, content-addressed, as the documents; a certificate recorded before
  its file was kept, with its hash only, has none to carry);
* ``keys/…`` — the lab's Ed25519 key (``LIMS_UPSTREAM_KEY``) and the hub relay key (``LIMS_HUB_KEY``). The
  archive therefore holds private keys: keep it as you keep the key (deploy/README.md, Backups).

`lims restore` (lims/ops/restore.py) refuses an archive whose members do not match the manifest, and
re-verifies the audit chain, every report hash, every document version's file hash and the evidence folder
before it puts the database in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from lims.config import Settings

FORMAT = "lims-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/lims.sqlite3"
PG_MEMBER = "database/lims.pgdump"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says what and where (zh-CN / English)."""


@dataclass(frozen=True)
class Member:
    name: str  # inside the archive
    kind: str  # database | anchors | report | document | evidence | key | file
    sha256: str
    bytes: int
    origin: str  # where it came from (a report: the path its database row names)

    def doc(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "sha256": self.sha256, "bytes": self.bytes,
                "origin": self.origin}


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    sha256: str
    backend: str
    revision: list[str]
    members: list[Member]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection URI (pg_dump/pg_restore ``--dbname``)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def pg_env(url: URL) -> dict[str, str]:
    """The environment for pg_dump/pg_restore: the password in PGPASSWORD, never on a command line."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _no_password(url: URL) -> str:
    return libpq_url(url.set(password=None))


def dump_database(engine: Engine, out: Path) -> str:
    """A consistent snapshot of the database into ``out``; returns the archive member name."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(str(url.database), timeout=30)
        target = sqlite3.connect(out)
        try:
            with target:
                source.backup(target)  # the online backup API: one consistent snapshot, writers carry on
        finally:
            target.close()
            source.close()
        return SQLITE_MEMBER
    done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={out}",
                           f"--dbname={_no_password(url)}"], env=pg_env(url), capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败 / pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
    return PG_MEMBER


def report_paths(engine: Engine) -> list[str]:
    """The report files the database names, in issue order (read after the snapshot was taken)."""
    from lims.db.models import Report

    with Session(engine) as s:
        return [p for (p,) in s.execute(select(Report.path).order_by(Report.id))]


def anchor_log(engine: Engine, settings: Settings) -> Path | None:
    if settings.anchor_log is not None:
        return Path(settings.anchor_log)
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".anchors")
    return None


def key_files(engine: Engine, settings: Settings) -> list[tuple[str, Path]]:
    """(archive name, path) of the keys that exist: the lab's upstream key and the hub relay key."""
    keys: list[tuple[str, Path]] = []
    lab_key = settings.upstream_key
    if lab_key is None and engine.url.get_backend_name() == "sqlite" and engine.url.database:
        lab_key = Path(engine.url.database).parent / "keys" / "lab_ed25519.pem"  # lims.db.anchors.key_path
    for name, path in (("keys/upstream.pem", lab_key), ("keys/hub.pem", settings.hub_key)):
        if path is not None and Path(path).is_file():
            keys.append((name, Path(path)))
    return keys


class _Writer:
    """Adds files to the tar, hashing each; the manifest goes in last."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: list[Member] = []
        self.names: set[str] = set()

    def add(self, path: Path, name: str, kind: str, origin: str) -> None:
        if name in self.names:
            return
        info = self.tar.gettarinfo(str(path), arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o600
        with path.open("rb") as fh:
            self.tar.addfile(info, fh)
        self.names.add(name)
        self.members.append(Member(name, kind, sha256_of(path), info.size, origin))

    def finish(self, header: dict[str, Any]) -> None:
        doc = {**header, "files": [m.doc() for m in self.members]}
        data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode, info.mtime = len(data), 0o600, int(dt.datetime.now(dt.UTC).timestamp())
        self.tar.addfile(info, io.BytesIO(data))


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed onto it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _report_members(writer: _Writer, engine: Engine, settings: Settings) -> None:
    seen: set[Path] = set()
    for i, text in enumerate(report_paths(engine), start=1):
        path = Path(text)
        if not path.is_file():
            raise BackupError(f"报告文件缺失 / report file {text} named by the database is missing")
        seen.add(path.resolve())
        writer.add(path, f"reports/{i:06d}-{path.name}", "report", text)
    folder = Path(settings.report_dir)
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            if path.resolve() not in seen:
                writer.add(path, f"files/{path.relative_to(folder).as_posix()}", "file", str(path))


def _stored_members(writer: _Writer, folder: Path, hashes: list[str], prefix: str, kind: str, *,
                    missing: str | None) -> None:
    """The files of content-addressed ``folder`` (:mod:`lims.filestore`) named by ``hashes``, as members
    ``<prefix>/<sha256>`` of ``kind``; a file not there is refused with ``missing`` (the bilingual name of what
    it is), or left out when ``missing`` is None."""
    for sha in hashes:
        path = folder / sha
        if path.is_file():
            writer.add(path, f"{prefix}/{sha}", kind, str(path))
        elif missing is not None:
            raise BackupError(f"{missing} {path} named by the database is missing")


def _document_members(writer: _Writer, engine: Engine, settings: Settings) -> None:
    from lims.quality.documents import stored_hashes

    if not inspect(engine).has_table("document_version"):  # a database from before document control
        return
    with Session(engine) as s:
        hashes = stored_hashes(s)
    _stored_members(writer, Path(settings.documents_dir), hashes, "documents", "document",
                    missing="受控文件缺失 / document file")


def _evidence_members(writer: _Writer, engine: Engine, settings: Settings) -> None:
    from lims.quality.audits import backup_hashes, evidence_dir

    if not inspect(engine).has_table("quality_evidence"):  # a database from before the quality system
        return
    folder = evidence_dir(settings)
    with Session(engine) as s:
        evidence, certificates = backup_hashes(s)
    _stored_members(writer, folder, evidence, "evidence", "evidence", missing="证据文件缺失 / evidence file")
    _stored_members(writer, folder, certificates, "evidence", "evidence", missing=None)  # recorded by hash only: may have none


def backup(engine: Engine, out: Path, settings: Settings | None = None) -> BackupResult:
    """Write the archive ``out`` (module docstring) from the database of ``engine``."""
    from lims.db.migrate import current_revisions

    settings = settings or Settings()
    revision = list(current_revisions(engine))
    if not revision:
        raise BackupError(f"数据库无结构 / the database {engine.url.render_as_string()} has no schema to back up")
    with tempfile.TemporaryDirectory(prefix="lims-backup-") as work, _atomic(out) as part:
        with tarfile.open(part, "w:gz") as tar:
            writer = _Writer(tar)
            log = anchor_log(engine, settings)
            if log is not None and log.is_file():  # before the snapshot: its checkpoints are all covered
                copied = Path(work) / "anchors.log"
                copied.write_bytes(log.read_bytes())
                writer.add(copied, "anchors/anchors.log", "anchors", str(log))
            dump = Path(work) / "database"
            name = dump_database(engine, dump)
            writer.add(dump, name, "database", engine.url.render_as_string(hide_password=True))
            _report_members(writer, engine, settings)
            _document_members(writer, engine, settings)
            _evidence_members(writer, engine, settings)
            for key_name, key in key_files(engine, settings):
                writer.add(key, key_name, "key", str(key))
            writer.finish({"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(),
                           "backend": engine.url.get_backend_name(), "revision": revision,
                           "lab_code": settings.lab_code})
        os.chmod(part, 0o600)
        members = writer.members
    return BackupResult(out, sha256_of(out), engine.url.get_backend_name(), revision, members)


def default_archive(settings: Settings | None = None) -> Path:
    """``var/backups/lims-<lab>-<UTC time>.tar.gz``."""
    settings = settings or Settings()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("var/backups") / f"lims-{settings.lab_code}-{stamp}.tar.gz"
