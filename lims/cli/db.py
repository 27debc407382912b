"""`lims db upgrade` (CONTRACTS.md): apply migrations to LIMS_DATABASE_URL (default embedded SQLite)."""

from __future__ import annotations

import argparse

from sqlalchemy import Engine

from lims.cli.common import EXIT_FAILURE, EXIT_OK, command_group, on_database
from lims.db.migrate import current_revisions, upgrade


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "db", "数据库维护 / database maintenance")
    up = actions.add_parser("upgrade", help="apply migrations")
    up.add_argument("--revision", default="heads")
    up.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    def run(engine: Engine) -> bool:
        upgrade(engine, args.revision)
        print(f"database at revision {', '.join(current_revisions(engine))} ({engine.url.render_as_string()})")
        return True

    return EXIT_OK if on_database("lims db upgrade: failed on", run) else EXIT_FAILURE
