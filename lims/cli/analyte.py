"""`lims analyte …`: the lab's analytes (检测项目) in the database of LIMS_DATABASE_URL
(lims.services.analytes_admin). A fresh install has only those the limits import creates; ``import`` reads
an analyte CSV (all or nothing; template lims/methods/example_analytes.csv: the analyte group OP-CARB of the
enzyme-inhibition screening method), audited with ``--reason``, before ``lims method import`` names them in
a method's scope.

The database code is imported when the command runs, not when the parser is built."""

from __future__ import annotations

import argparse
from typing import Any

from lims.cli.common import (
    EXIT_OK,
    BadInput,
    command_group,
    database_failure,
    emit_json,
    print_listing,
    session_factory,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "analyte", "检测项目（农药、兽药、快检类别） / analytes")
    imp = actions.add_parser("import", help="create or update analytes from a CSV (all or nothing)")
    imp.add_argument("csv", help="columns: code,name_zh,name_en,cas,kind (template: lims/methods/example_analytes.csv)")
    imp.add_argument("--reason", help="why (goes into the audit trail; default: 'analyte import FILE')")
    imp.add_argument("--json", action="store_true", help="print one JSON document")
    imp.set_defaults(handler=_import)
    listing = actions.add_parser("list", help="analytes by code")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=_list)


def _save_rows(s: Any, report: Any, reason: str) -> tuple[list[str], list[Any]]:
    """Each accepted row saved in turn; the rows the database refuses (a Chinese name another analyte has)
    come back as rejections naming their line and field."""
    from lims.methods import RejectedAnalyteRow
    from lims.services import analytes_admin
    from lims.services.errors import ServiceError

    saved, refused = [], []
    for line, spec in report.accepted:
        try:
            saved.append(analytes_admin.save_analyte(s, spec, reason=reason).code)
        except ServiceError as e:
            refused.append(RejectedAnalyteRow(line, e.field or "?", str(e).split(": ", 1)[-1]))
    return saved, refused


def _import(args: argparse.Namespace) -> int:
    """All or nothing: a rejected row refuses the file; the one stderr line names every rejected row."""
    from sqlalchemy.exc import SQLAlchemyError

    from lims.csvio import CsvError
    from lims.db.engine import session_scope
    from lims.methods import read_analytes_csv
    from lims.services.analytes_admin import check_reason
    from lims.services.errors import ServiceError

    try:
        report = read_analytes_csv(args.csv)
        reason = check_reason(args.reason if args.reason is not None else f"analyte import {args.csv}")
    except CsvError as e:
        raise BadInput(e.detail, file=e.source, line=e.line, field=e.field) from None
    except ServiceError as e:
        raise BadInput(str(e), field="--reason") from None
    factory = session_factory()
    try:
        with session_scope(factory, actor="cli:analyte-import", reason=reason) as s:
            saved, refused = _save_rows(s, report, reason)
            rejected = sorted([*report.rejected, *refused], key=lambda r: r.line)
            if rejected:
                rows = "; ".join(str(r) for r in rejected)
                raise BadInput(f"{len(rejected)} rows rejected, nothing imported: {rows}", file=report.source)
    except SQLAlchemyError as e:
        return database_failure("analyte import", factory, e)
    finally:
        factory.kw["bind"].dispose()
    if args.json:
        emit_json({"source": report.source, "analytes": saved})
    else:
        print(f"{report.source}: {len(saved)} analytes created or updated: {', '.join(saved)}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from lims.services import analytes_admin

    return print_listing(args, "analyte list", analytes_admin.list_analytes,
                         show=lambda r: f"{r.code}  {r.kind}  {r.cas or '—'}  {r.name_zh} / {r.name_en}",
                         empty="no analytes: `lims limits import --starter` and "
                               "`lims analyte import lims/methods/example_analytes.csv`")
