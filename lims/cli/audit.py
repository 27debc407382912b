"""`lims audit verify` (CONTRACTS.md): exit 0 if intact, 1 naming the first broken record."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from lims.cli.common import EXIT_FAILURE, EXIT_OK, command_group, emit_json, on_database

if TYPE_CHECKING:  # SQLAlchemy and lims.db load when the command runs, not for `--help` (issue 17)
    from sqlalchemy import Engine

    from lims.db import anchors
    from lims.db.verify import VerifyReport


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "audit", "审计追踪 / audit trail")
    v = actions.add_parser("verify", help="verify the hash chain and every certified record")
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=_verify)
    a = actions.add_parser("anchor", help="sign the chain head and append it to the anchor log (and the outbox)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=_anchor)


def _read(engine: Engine) -> VerifyReport:
    from sqlalchemy.orm import Session

    from lims.db.verify import verify_database

    with Session(engine) as session:
        return verify_database(session)


def _verify(args: argparse.Namespace) -> int:
    report = on_database("lims audit verify: cannot read the database", _read)
    if report is None:
        return EXIT_FAILURE
    _record(report)
    if args.json:
        emit_json({"ok": report.ok, "audit_events": report.audit_events,
                   "certified_records": report.certified_records, "message": report.message,
                   "problems": report.problems, "anchor": report.anchor})
    else:
        print(("OK: " if report.ok else "BROKEN: ") + report.message,
              file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _record(report: VerifyReport) -> None:
    """The outcome, for /metrics (lims_audit_verify_ok); a folder that cannot be written is only warned of."""
    from lims.config import get_settings
    from lims.ops.status import record_verify

    path = get_settings().audit_status_file
    try:
        record_verify(path, ok=report.ok, audit_events=report.audit_events, message=report.message)
    except OSError as exc:
        print(f"lims audit verify: cannot record the outcome in {path}: {exc.strerror}", file=sys.stderr)


def _take_checkpoint(engine: Engine) -> anchors.Checkpoint:
    from lims.db import anchors, audit
    from lims.db.engine import make_session_factory, session_scope

    audit.install()
    with session_scope(make_session_factory(engine), actor="lims audit anchor", reason="checkpoint") as s:
        cp = anchors.checkpoint(s)
        if cp is None:
            raise RuntimeError("no lab key (set LIMS_UPSTREAM_KEY to the lab's Ed25519 private key)")
        return cp


def _anchor(args: argparse.Namespace) -> int:
    """`lims audit anchor`: exit 0 with the checkpoint written; 1 when no lab key or no log is configured."""
    cp = on_database("lims audit anchor: cannot write a checkpoint to", _take_checkpoint)
    if cp is None:
        return EXIT_FAILURE
    if cp.log is None:
        print("lims audit anchor: checkpoint queued upstream, but no anchor log is configured (LIMS_ANCHOR_LOG)",
              file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        emit_json({"seq": cp.seq, "hash": cp.hash, "at": cp.at, "lab": cp.lab, "anchor_log": str(cp.log)})
    else:
        print(f"checkpoint seq {cp.seq} {cp.hash[:16]}… signed and written to {cp.log}")
    return EXIT_OK
