"""`lims limits find` (CONTRACTS.md, Limits): the limit a result of an analyte in a commodity is judged
against, from the database of LIMS_DATABASE_URL, found through the commodity classification.

The database code is imported when the command runs, not when the parser is built (``lims --help`` and
the other commands do not pay for it)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, command_group, emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "limits", "限量标准 / maximum residue limits")
    find = actions.add_parser("find", help="the limit a result of ANALYTE in COMMODITY is judged against")
    find.add_argument("--commodity", required=True, help="commodity or group: Chinese or English name, or code")
    find.add_argument("--analyte", required=True, help="analyte: Chinese or English name, code or CAS number")
    find.add_argument("--date", help="YYYY-MM-DD: the limit in force on that day (default: today)")
    find.add_argument("--json", action="store_true", help="print one JSON document")
    find.set_defaults(handler=_find)
    imp = actions.add_parser("import", help="import a limit CSV (all or nothing), or the cited starter table")
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("csv", nargs="?", help="the lab's limit CSV (columns as lims/limits/starter_mrls.csv)")
    source.add_argument("--starter", action="store_true", help="the starter table shipped with lims")
    imp.add_argument("--json", action="store_true", help="print one JSON document")
    imp.set_defaults(handler=_import)


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"not a date YYYY-MM-DD: {text!r}", field="--date") from None


def _find(args: argparse.Namespace) -> int:
    on = _date(args.date)
    from sqlalchemy.exc import SQLAlchemyError

    from lims.db.engine import make_engine, make_session_factory
    from lims.services import limits
    from lims.services.errors import InvalidInput

    engine = make_engine()
    try:
        with make_session_factory(engine)() as s:
            doc = limits.find(s, args.commodity, args.analyte, on).as_json()
    except InvalidInput as e:
        raise BadInput(str(e), field=f"--{e.field}" if e.field else None) from None
    except SQLAlchemyError as e:
        print(f"lims limits find: database {engine.url.render_as_string()}: {str(e).splitlines()[0]}",
              file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    if args.json:
        emit_json(doc)
    else:
        print(_text(doc))
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    """All or nothing: one rejected row refuses the file; the one stderr line names every rejected row."""
    from lims.limits import LimitsCsvError, load_starter_table, read_limits_csv

    try:
        report = load_starter_table() if args.starter else read_limits_csv(args.csv)
    except LimitsCsvError as e:
        raise BadInput(str(e)) from None
    if report.rejected:
        rows = "; ".join(f"line {r.line}, field '{r.field}': {r.reason}" for r in report.rejected)
        raise BadInput(f"{len(report.rejected)} rows rejected, nothing imported: {rows}", file=report.source)
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory, session_scope
    from lims.services import limits

    audit.install()
    engine = make_engine()
    try:
        with session_scope(make_session_factory(engine), actor="cli:limits-import",
                           reason=f"limits import {report.source}") as s:
            out = limits.import_limits(s, report)
    finally:
        engine.dispose()
    doc = {"source": report.source, "inserted": out.inserted, "skipped_existing": out.skipped_existing,
           "new_commodities": list(out.new_commodities)}
    if args.json:
        emit_json(doc)
    else:
        print(f"{report.source}: {out.inserted} limits added, {out.skipped_existing} already present"
              + (f"; new commodities (check their group): {', '.join(out.new_commodities)}"
                 if out.new_commodities else ""))
    return EXIT_OK


def _text(doc: dict[str, Any]) -> str:
    c, a, limit = doc["commodity"], doc["analyte"], doc["limit"]
    head = f"{c['name_zh']} × {a['name_zh']}（{' › '.join(c['group_path']) or '—'}）"
    if limit is None:
        return f"{head}\n  无限量标准 / no applicable limit — {doc['reason_zh']}"
    value = "禁用 / banned" if doc["banned"] else f"{limit['limit_value']:g} {limit['unit']}"
    checked = "已核对 / verified" if limit["verified"] else "未核对 / NOT verified against the standard's text"
    return (f"{head}\n  {value}  ({limit['matched_via']}: {limit['commodity']})\n"
            f"  {limit['source_standard']} {limit['source_clause']}\n  {checked}\n  {doc['reason_zh']}")
