"""`lims audit verify` (CONTRACTS.md): exit 0 if intact, 1 naming the first broken record."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lims.cli.common import EXIT_FAILURE, EXIT_OK, command_group, emit_json, on_database
from lims.db.verify import VerifyReport, verify_database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "audit", "审计追踪 / audit trail")
    v = actions.add_parser("verify", help="verify the hash chain and every certified record")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=_verify)


def _read(engine: Engine) -> VerifyReport:
    with Session(engine) as session:
        return verify_database(session)


def _verify(args: argparse.Namespace) -> int:
    report = on_database("lims audit verify: cannot read the database", _read)
    if report is None:
        return EXIT_FAILURE
    if args.json:
        emit_json({"ok": report.ok, "audit_events": report.audit_events,
                   "certified_records": report.certified_records, "message": report.message})
    else:
        print(("OK: " if report.ok else "BROKEN: ") + report.message,
              file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILURE
