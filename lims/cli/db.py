"""`lims db upgrade` (CONTRACTS.md): apply migrations to LIMS_DATABASE_URL (default embedded SQLite)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lims.cli.common import EXIT_FAILURE, EXIT_OK, command_group, on_database

if TYPE_CHECKING:  # SQLAlchemy and Alembic load when the command runs, not for `--help` (issue 17)
    from sqlalchemy import Engine


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "db", "数据库维护 / database maintenance")
    up = actions.add_parser("upgrade", help="apply migrations")
    up.add_argument("--revision", default="heads")
    up.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from lims.db.migrate import current_revisions, upgrade

    def run(engine: Engine) -> bool:
        upgrade(engine, args.revision)
        _seed_classification(engine)
        print(f"database at revision {', '.join(current_revisions(engine))} ({engine.url.render_as_string()})")
        return True

    return EXIT_OK if on_database("lims db upgrade: failed on", run) else EXIT_FAILURE


def _seed_classification(engine: Engine) -> None:
    """The commodity classification limits are looked up through (lims.services.limits.ensure_classification)."""
    from lims.db import audit
    from lims.db.engine import make_session_factory, session_scope
    from lims.db.migrate import current_revisions, head_revisions
    from lims.services.limits import ensure_classification

    if set(current_revisions(engine)) != set(head_revisions()):
        return  # an older revision asked for: its schema may not have the classification columns
    audit.install()
    with session_scope(make_session_factory(engine), actor="cli:db-upgrade", reason="commodity classification") as s:
        added = ensure_classification(s)
    if added:
        print(f"commodity classification: {added} groups and commodities added")
