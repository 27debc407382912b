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


def _text(doc: dict[str, Any]) -> str:
    c, a, limit = doc["commodity"], doc["analyte"], doc["limit"]
    head = f"{c['name_zh']} × {a['name_zh']}（{' › '.join(c['group_path']) or '—'}）"
    if limit is None:
        return f"{head}\n  无限量标准 / no applicable limit — {doc['reason_zh']}"
    value = "禁用 / banned" if doc["banned"] else f"{limit['limit_value']:g} {limit['unit']}"
    checked = "已核对 / verified" if limit["verified"] else "未核对 / NOT verified against the standard's text"
    return (f"{head}\n  {value}  ({limit['matched_via']}: {limit['commodity']})\n"
            f"  {limit['source_standard']} {limit['source_clause']}\n  {checked}\n  {doc['reason_zh']}")
