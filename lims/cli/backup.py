"""`lims backup [--out FILE]` and `lims restore ARCHIVE [--force]` (issue 17, operations): one archive with
the database (SQLite online backup API, or pg_dump), the issued report PDFs, the controlled documents' files,
the keys and the audit anchor log, listed in a manifest of SHA-256s; a restore refuses a tampered archive and
re-verifies the audit chain, every report hash and every document file's hash (lims/ops/backup.py,
lims/ops/restore.py). Heavy modules load when the command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lims.cli.common import EXIT_FAILURE, EXIT_OK, emit_json

if TYPE_CHECKING:
    from sqlalchemy import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    b = sub.add_parser("backup", help="备份数据库、报告与密钥 / back up the database, reports and keys")
    b.add_argument("--out", type=Path, help="archive file (default var/backups/lims-LAB-TIME.tar.gz)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(handler=_backup)
    r = sub.add_parser("restore", help="从备份恢复并校验 / restore a backup and verify it")
    r.add_argument("archive", type=Path)
    r.add_argument("--force", action="store_true",
                   help="replace an existing database and differing files (PostgreSQL: drop its objects)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_restore)


def _engine() -> Engine:
    from lims.db.engine import make_engine

    return make_engine()


def _backup(args: argparse.Namespace) -> int:
    from lims.ops.backup import BackupError, backup, default_archive

    engine = _engine()
    try:
        done = backup(engine, args.out or default_archive())
    except (BackupError, OSError) as exc:
        print(f"lims backup: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    kinds: dict[str, int] = {}
    for m in done.members:
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    if args.json:
        emit_json({"archive": str(done.archive), "sha256": done.sha256, "backend": done.backend,
                   "revision": done.revision, "files": kinds})
    else:
        print(f"备份完成 / backup written: {done.archive}\n  sha256 {done.sha256}\n  {done.backend} at "
              f"{', '.join(done.revision)}; " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    from lims.ops.backup import BackupError
    from lims.ops.restore import restore

    engine = _engine()
    try:
        done = restore(args.archive, engine, force=args.force)
    except (BackupError, OSError) as exc:
        print(f"lims restore: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    if args.json:
        emit_json({"ok": done.verify_ok, "backend": done.backend, "revision": done.revision, "files": done.files,
                   "verify": done.verify_message})
    elif done.verify_ok:
        print(f"恢复完成并校验通过 / restored and verified: {done.backend} at {', '.join(done.revision)}, "
              f"{done.files} files; {done.verify_message}")
    else:
        print(f"lims restore: 校验失败，未启用 / the restored database does not verify: {done.verify_message}",
              file=sys.stderr)
    return EXIT_OK if done.verify_ok else EXIT_FAILURE
