"""`lims method …`: the lab's analysis methods, their scope and signatories, in the database of
LIMS_DATABASE_URL (lims.services.methods_admin). A fresh install has none; ``import`` reads a method CSV
(all or nothing; template lims/methods/example_methods.csv), ``signatory grant|revoke`` gives or withdraws an
approver's authority to approve the method's results (audited with the reason given).

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
    actions = command_group(sub, "method", "检测方法、检测范围与授权签字人 / analysis methods, scope, signatories")
    imp = actions.add_parser("import", help="create or update methods from a CSV (all or nothing)")
    imp.add_argument("csv", help="columns: code,name,standard,kind,unit,lod_mg_kg,loq_mg_kg,decision_rule,analytes "
                                 "(template: lims/methods/example_methods.csv)")
    imp.add_argument("--json", action="store_true", help="print one JSON document")
    imp.set_defaults(handler=_import)
    listing = actions.add_parser("list", help="methods with their scope and signatories")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=_list)
    signatory = command_group(actions, "signatory", "授权签字人 / who may approve a method's results")
    for action, text in (("grant", "give USER (an approver) authority to approve METHOD's results"),
                         ("revoke", "withdraw USER's authority to approve METHOD's results")):
        p = signatory.add_parser(action, help=text)
        p.add_argument("user", help="username")
        p.add_argument("method", help="method code")
        p.add_argument("--reason", required=True, help="why (goes into the audit trail)")
        p.set_defaults(handler=_signatory, action=action)


def _import(args: argparse.Namespace) -> int:
    """All or nothing: a rejected row refuses the file; the one stderr line names every rejected row."""
    from sqlalchemy.exc import SQLAlchemyError

    from lims.csvio import CsvError
    from lims.db.engine import session_scope
    from lims.methods import read_methods_csv, unknown_scope_rows
    from lims.services import methods_admin

    try:
        report = read_methods_csv(args.csv)
    except CsvError as e:
        raise BadInput(e.detail, file=e.source, line=e.line, field=e.field) from None
    factory = session_factory()
    try:
        with session_scope(factory, actor="cli:method-import", reason=f"method import {report.source}") as s:
            rejected = sorted([*report.rejected, *unknown_scope_rows(s, report)], key=lambda r: r.line)
            if rejected:
                rows = "; ".join(str(r) for r in rejected)
                raise BadInput(f"{len(rejected)} rows rejected, nothing imported: {rows}", file=report.source)
            saved = [m.code for m in methods_admin.save_methods(s, [spec for _line, spec in report.accepted])]
    except SQLAlchemyError as e:
        return database_failure("method import", factory, e)
    finally:
        factory.kw["bind"].dispose()
    if args.json:
        emit_json({"source": report.source, "methods": saved})
    else:
        print(f"{report.source}: {len(saved)} methods created or updated: {', '.join(saved)}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from lims.services import methods_admin

    def show(r: Any) -> str:
        limits = f"LOD {r.lod_mg_kg:g} / LOQ {r.loq_mg_kg:g} mg/kg" if r.lod_mg_kg and r.loq_mg_kg else "LOD/LOQ —"
        return (f"{r.code}  {r.standard}  {r.kind}  {r.unit}  {limits}\n  {r.name}\n"
                f"  scope: {', '.join(r.analytes) or '—'}\n  signatories: {', '.join(r.signatories) or '—'}")
    return print_listing(args, "method list", methods_admin.list_methods, show=show,
                         empty="no methods: `lims method import lims/methods/example_methods.csv` (edit it to the "
                               "lab's methods)")


def _signatory(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from lims.db.engine import session_scope
    from lims.services import methods_admin
    from lims.services.errors import ServiceError

    factory = session_factory()
    try:
        with session_scope(factory, actor=f"cli:method-signatory-{args.action}", reason=args.reason) as s:
            if args.action == "grant":
                added = methods_admin.grant_signatory(s, args.user, args.method, reason=args.reason)
                print(f"{args.user} {'is now' if added else 'already was'} a signatory of {args.method}")
            else:
                methods_admin.revoke_signatory(s, args.user, args.method, reason=args.reason)
                print(f"{args.user} is no longer a signatory of {args.method}")
    except ServiceError as e:
        field = {"username": "USER", "method": "METHOD", "reason": "--reason"}.get(e.field or "", e.field)
        raise BadInput(str(e), field=field) from None
    except SQLAlchemyError as e:
        return database_failure(f"method signatory {args.action}", factory, e)
    finally:
        factory.kw["bind"].dispose()
    return EXIT_OK
