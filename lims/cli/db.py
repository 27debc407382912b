"""`lims db upgrade` (CONTRACTS.md): apply migrations to LIMS_DATABASE_URL (default embedded SQLite)."""

from __future__ import annotations

import argparse
import sys

from lims.db.engine import make_engine
from lims.db.migrate import current_revisions, upgrade


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("db", help="数据库维护 / database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="apply migrations")
    up.add_argument("--revision", default="heads")
    up.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        upgrade(engine, args.revision)
        print(f"database at revision {', '.join(current_revisions(engine))} ({engine.url.render_as_string()})")
    except Exception as exc:  # noqa: BLE001 - report, never a traceback
        print(f"lims db upgrade: failed on {engine.url.render_as_string()}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
