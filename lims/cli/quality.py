"""`lims quality …`: nonconformities and CAPA, overdue escalation, audit programme and checklists (lims/quality/).

    lims quality nc list [--status S] [--source SRC] [--json]
    lims quality nc show ID [--json]
    lims quality nc raise --description TEXT --raised-by WHO [--risk R] [--owner O] [--due YYYY-MM-DD]
                          [--link KIND:REF]... [--json]
    lims quality nc contain ID --containment C --kind K --ref REF --note TEXT --by WHO
    lims quality nc root-cause ID --text TEXT --by WHO
    lims quality nc action ID --description TEXT --owner O --due YYYY-MM-DD --by WHO
    lims quality nc done ACTION_ID --note TEXT --by WHO;  nc implemented ID --by WHO
    lims quality nc verify ID --text TEXT --by WHO
    lims quality nc close ID --by WHO [--note TEXT] [--json]       (needs the effectiveness verified)
    lims quality overdue [--today YYYY-MM-DD] [--json]
    lims quality audit programme YEAR [--audits N] [--create] [--by WHO] [--json]
    lims quality audit checklist CODE [--json]

The database is LIMS_DATABASE_URL's; the database code is imported when a command runs. Bad input (an
unknown value, dates in the wrong order, an unknown clause) is exit 2 with one line; a refusal of the
workflow (closing before the effectiveness is verified) is exit 1 with its reason."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable, Mapping
from typing import Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, command_group, emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "quality", "质量体系：不符合、纠正措施、审核 / quality system")
    nc = actions.add_parser("nc", help="不符合工作 / nonconformities").add_subparsers(dest="nc_command",
                                                                                 metavar="ACTION", required=True)
    p = nc.add_parser("list", help="list nonconformities")
    p.add_argument("--status")
    p.add_argument("--source")
    _json(p, _nc_list)
    p = nc.add_parser("show", help="one nonconformity with its links and actions")
    p.add_argument("id", type=int)
    _json(p, _nc_show)
    p = nc.add_parser("raise", help="raise a nonconformity by hand")
    p.add_argument("--description", required=True)
    p.add_argument("--raised-by", required=True)
    p.add_argument("--risk", default="medium", help="low | medium | high")
    p.add_argument("--owner", default="")
    p.add_argument("--due", help="YYYY-MM-DD (default by risk: 7/30/60 days)")
    p.add_argument("--link", action="append", default=[], metavar="KIND:REF",
                   help="affected record, e.g. report:JCS001 or method:GB23200.113 (repeatable)")
    _json(p, _nc_raise)
    p = nc.add_parser("close", help="close a nonconformity whose effectiveness is verified")
    p.add_argument("id", type=int)
    p.add_argument("--by", required=True, help="who closes it (audit trail)")
    p.add_argument("--note", default="")
    _json(p, _nc_close)
    _steps(nc)
    p = actions.add_parser("overdue", help="nonconformities and actions past their due date (escalation)")
    p.add_argument("--today", help="YYYY-MM-DD (default: today)")
    _json(p, _overdue)
    audit = actions.add_parser("audit", help="审核 / audits").add_subparsers(dest="audit_command", metavar="ACTION",
                                                                            required=True)
    p = audit.add_parser("programme", help="the year's internal audit programme and its clause coverage")
    p.add_argument("year", type=int)
    p.add_argument("--audits", type=int, default=4, help="internal audits in the year (with --create)")
    p.add_argument("--create", action="store_true", help="create the programme covering every clause")
    p.add_argument("--by", default="cli:quality", help="who creates it (audit trail)")
    _json(p, _programme)
    p = audit.add_parser("checklist", help="the checklist of an audit, from the clause library")
    p.add_argument("code")
    _json(p, _checklist)
    from lims.cli import quality_registers  # noqa: I001 - instrument, material, staff, env, stats (issue 15)

    quality_registers.register_into(actions)


def _steps(nc: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """contain / root-cause / action / done / implemented / verify: each step of 7.10 and 8.7, audited as --by."""
    specs: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {
        "contain": ("containment: stop_work (method/instrument), withhold, recall (report → amendment)", [
            ("--containment", {"required": True}), ("--kind", {"required": True}), ("--ref", {"required": True}),
            ("--note", {"required": True})]),
        "root-cause": ("record the root cause", [("--text", {"required": True})]),
        "action": ("add a corrective action", [("--description", {"required": True}), ("--owner", {"required": True}),
                                               ("--due", {"required": True})]),
        "done": ("mark an action done (ID is the action's)", [("--note", {"required": True})]),
        "implemented": ("every action done: the NC moves to action taken", []),
        "verify": ("record the effectiveness check", [("--text", {"required": True})]),
    }
    for name, (text, options) in specs.items():
        p = nc.add_parser(name, help=text)
        p.add_argument("id", type=int)
        p.add_argument("--by", required=True, help="who does it (audit trail)")
        for flag, kw in options:
            p.add_argument(flag, **kw)
        p.set_defaults(step=name)
        _json(p, _nc_step)


def _nc_step(args: argparse.Namespace) -> int:
    from lims.config import get_settings
    from lims.quality import nonconformity as ncs
    from lims.quality.views import nc_detail

    due = _date(getattr(args, "due", None), "--due")

    def work(s: Any) -> dict[str, Any]:
        nc_id = args.id
        if args.step == "contain":
            ncs.contain(s, nc_id, containment=args.containment, kind=args.kind, ref=args.ref, note=args.note,
                        report_dir=get_settings().report_dir)
        elif args.step == "root-cause":
            ncs.record_root_cause(s, nc_id, args.text)
        elif args.step == "action":
            assert due is not None
            ncs.add_action(s, nc_id, description=args.description, owner=args.owner, due_date=due)
        elif args.step == "done":
            nc_id = ncs.complete_action(s, args.id, note=args.note).nonconformity_id
        elif args.step == "implemented":
            ncs.implement(s, nc_id)
        else:
            ncs.verify_effectiveness(s, nc_id, verification=args.text)
        return nc_detail(s, ncs.get_nc(s, nc_id))

    return _run(args, args.by, work, _nc_line)


def _json(p: argparse.ArgumentParser, handler: Callable[[argparse.Namespace], int]) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=handler)


def _date(text: str | None, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"not a date YYYY-MM-DD: {text!r}", field=field) from None


def _unit(actor: str, work: Callable[[Any], Any], options: Mapping[str, str] | None = None) -> Any:
    """``work(session)`` in one unit of work on LIMS_DATABASE_URL; service refusals become exit codes. A
    refused field is named by its option: ``options`` maps service fields to options (else ``--field-name``)."""
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory, session_scope
    from lims.services.errors import InvalidInput, NotFound, ServiceError

    audit.install()
    engine = make_engine()
    try:
        with session_scope(make_session_factory(engine), actor=actor) as s:
            return work(s)
    except (InvalidInput, NotFound) as e:
        field = None if e.field is None else (options or {}).get(e.field, f"--{e.field.replace('_', '-')}")
        raise BadInput(str(e), field=field) from None
    except ServiceError as e:
        print(f"lims quality: {e}", file=sys.stderr)
        raise _Failed() from None
    finally:
        engine.dispose()


class _Failed(Exception):
    pass


def _run(args: argparse.Namespace, actor: str, work: Callable[[Any], Any], text: Callable[[Any], str],
         options: Mapping[str, str] | None = None) -> int:
    try:
        doc = _unit(actor, work, options)
    except _Failed:
        return EXIT_FAILURE
    if args.json:
        emit_json(doc)
    else:
        print(text(doc))
    return EXIT_OK


def _nc_line(d: dict[str, Any]) -> str:
    return (f"NC-{d['id']}  {d['status_label']}  {d['risk_label']}  {d['source_label']}  到期 due {d['due_date']}  "
            f"{d['description'][:60]}")


def _nc_list(args: argparse.Namespace) -> int:
    from lims.quality import nonconformity as ncs
    from lims.quality.views import nc_summary

    return _run(args, "cli:quality", lambda s: {"nonconformities": [
        nc_summary(n) for n in ncs.list_ncs(s, status=args.status, source=args.source)]},
        lambda d: "\n".join(_nc_line(n) for n in d["nonconformities"]) or "无 / none")


def _nc_show(args: argparse.Namespace) -> int:
    from lims.quality import nonconformity as ncs
    from lims.quality.views import nc_detail

    def text(d: dict[str, Any]) -> str:
        lines = [_nc_line(d), f"  原因 root cause: {d['root_cause'] or '—'}", f"  控制 containment: {d['containment'] or '—'}"]
        lines += [f"  措施 action {a['id']}: {a['description']} ({a['owner']}, due {a['due_date']}, "
                  f"{'done' if a['done_at'] else 'open'})" for a in d["actions"]]
        lines += [f"  关联 link: {lk['kind']} {lk['ref']} ({lk['containment_label']})" for lk in d["links"]]
        return "\n".join(lines)

    return _run(args, "cli:quality", lambda s: nc_detail(s, ncs.get_nc(s, args.id)), text)


def _nc_raise(args: argparse.Namespace) -> int:
    from lims.quality import nonconformity as ncs
    from lims.quality.views import nc_detail

    links = []
    for item in args.link:
        kind, sep, ref = item.partition(":")
        if not sep or not ref.strip():
            raise BadInput(f"--link wants KIND:REF (got {item!r})", field="--link")
        links.append((kind.strip(), ref.strip()))
    due = _date(args.due, "--due")
    return _run(args, args.raised_by, lambda s: nc_detail(s, ncs.raise_nc(
        s, source="manual", description=args.description, raised_by=args.raised_by, risk=args.risk,
        owner=args.owner, due_date=due, links=links)), _nc_line)


def _nc_close(args: argparse.Namespace) -> int:
    from lims.quality import nonconformity as ncs
    from lims.quality.views import nc_summary

    return _run(args, args.by, lambda s: nc_summary(ncs.close(s, args.id, note=args.note)), _nc_line)


def _overdue(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from lims.quality import nonconformity as ncs

    today = _date(args.today, "--today")

    def work(s: Any) -> dict[str, Any]:
        rows = ncs.overdue(s, today=today)
        return {"overdue": [{**asdict(o), "due_date": o.due_date.isoformat()} for o in rows]}

    return _run(args, "cli:quality", work, lambda d: "\n".join(
        f"NC-{o['nonconformity_id']}  逾期 {o['days_overdue']} 天 / days overdue  {o['owner']}  {o['what']}"
        for o in d["overdue"]) or "无逾期 / nothing overdue")


def _programme(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from lims.db.models_quality import AuditProgramme, QualityAudit
    from lims.quality import audits
    from lims.quality.views import audit_view

    def work(s: Any) -> dict[str, Any]:
        if args.create:
            audits.create_programme(s, year=args.year, audits=args.audits, lead_auditor=args.by)
        programme = s.execute(select(AuditProgramme).where(AuditProgramme.year == args.year)).scalar_one_or_none()
        rows = [] if programme is None else s.execute(select(QualityAudit).where(
            QualityAudit.programme_id == programme.id).order_by(QualityAudit.start_date)).scalars().all()
        return {"year": args.year, "title": programme.title if programme else None,
                "audits": [audit_view(a) for a in rows], "coverage": audits.programme_coverage(s, args.year)}

    return _run(args, args.by, work, lambda d: "\n".join(
        [f"{d['year']}: {d['title'] or '无方案 / no programme'}"]
        + [f"  {a['code']}  {a['start_date']}–{a['end_date']}  {a['status_label']}  {len(a['clauses'])} 条款 clauses"
           for a in d["audits"]]
        + [f"  未覆盖 / not covered: {', '.join(d['coverage']['missing']) or '无 / none'}"]))


def _checklist(args: argparse.Namespace) -> int:
    from lims.quality import audits

    return _run(args, "cli:quality", lambda s: {"audit": args.code, "items": audits.checklist(s, args.code)},
                lambda d: "\n".join(f"[ ] {i['question']}" for i in d["items"]))
