"""`lims audit verify` (CONTRACTS.md): exit 0 if intact, 1 naming the first broken record."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.orm import Session

from lims.cli.common import emit_json
from lims.db.engine import make_engine
from lims.db.verify import verify_database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("audit", help="审计追踪 / audit trail")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="verify the hash chain and every certified record")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        with Session(engine) as session:
            report = verify_database(session)
    except Exception as exc:  # noqa: BLE001
        print(f"lims audit verify: cannot read the database {engine.url.render_as_string()}: {exc}",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if args.json:
        emit_json({"ok": report.ok, "audit_events": report.audit_events,
                   "certified_records": report.certified_records, "message": report.message})
    else:
        print(("OK: " if report.ok else "BROKEN: ") + report.message,
              file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1
