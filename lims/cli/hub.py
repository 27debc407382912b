"""`lims hub …` (CONTRACTS.md "Hub"): serve, lab add / retire-key / list, token create / revoke, stats, reconcile-report, alerts,
relay. Database from ``LIMS_HUB_DATABASE_URL`` (the main database when unset), migrated before use."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, command_group, emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "hub", "上级数据汇交中心 / upstream hub")
    s = actions.add_parser("serve", help="serve the hub receiver")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8100)
    s.set_defaults(handler=_serve)
    lab = command_group(actions, "lab", "登记机构 / lab registry")
    a = lab.add_parser("add", help="register a lab's public key (a second key is a rotation)")
    a.add_argument("code")
    a.add_argument("--public-key", required=True, type=Path, help="PEM file of the lab's Ed25519 public key")
    a.add_argument("--region", help="GB/T 2260 code of the region the lab may report for")
    a.add_argument("--name")
    a.add_argument("--relay", action="store_true", help="a lower hub that relays the labs of its region")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=_lab_add)
    r = lab.add_parser("retire-key", help="retire a key (it no longer verifies)")
    r.add_argument("code")
    r.add_argument("--fingerprint", required=True)
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_lab_retire)
    ls = lab.add_parser("list", help="registered labs and keys")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_lab_list)
    tok = command_group(actions, "token", "操作员令牌 / operator tokens for the hub's read and registry API")
    tc = tok.add_parser("create", help="create a bearer token (printed once; the hub keeps its SHA-256)")
    tc.add_argument("name")
    tc.add_argument("--json", action="store_true")
    tc.set_defaults(handler=_token_create)
    tv = tok.add_parser("revoke", help="revoke a token (it no longer authenticates)")
    tv.add_argument("name")
    tv.add_argument("--json", action="store_true")
    tv.set_defaults(handler=_token_revoke)
    task = command_group(actions, "task", "任务下达 / monitoring tasks published to the labs")
    tp = task.add_parser("publish", help="publish a task notice (JSON, schema task-notice) or a newer version")
    tp.add_argument("file", type=Path)
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(handler=_task_publish)
    st = actions.add_parser("stats", help="messages, results, non-compliant; rows by FIELDS")
    st.add_argument("--by", default="", help="comma list of region, commodity, analyte, verdict, lab, month")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=_stats)
    rr = actions.add_parser("reconcile-report", help="messages and results each lab delivered on a day (UTC)")
    rr.add_argument("--date", help="YYYY-MM-DD (default today)")
    rr.add_argument("--json", action="store_true")
    rr.set_defaults(handler=_reconcile_report)
    al = actions.add_parser("alerts", help="alerts raised (--notify: POST pending ones to the webhook)")
    al.add_argument("--notify", action="store_true")
    al.add_argument("--json", action="store_true")
    al.set_defaults(handler=_alerts)
    rl = actions.add_parser("relay", help="relay stored messages upward (LIMS_HUB_RELAY_URL, LIMS_HUB_KEY)")
    rl.add_argument("--once", action="store_true")
    rl.add_argument("--json", action="store_true")
    rl.set_defaults(handler=_relay)


def _serve(args: argparse.Namespace) -> int:
    from lims.cli.serve import run_asgi
    from lims.config import Settings
    from lims.hub.relay import relay_worker

    try:  # LIMS_HUB_RELAY_URL set: relay in a thread beside the receiver
        worker = relay_worker(_factory()) if Settings().hub_relay_url else None
    except ValueError as exc:
        raise BadInput(str(exc), field="LIMS_HUB_KEY") from None
    if worker is not None:
        worker.start_thread()
    try:
        run_asgi("api.hub:create_hub_app", args.host, args.port)
    finally:
        if worker is not None:
            worker.stop()
    return EXIT_OK


def _factory() -> Any:
    from lims.config import Settings
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory
    from lims.db.migrate import upgrade

    settings = Settings()
    audit.install()
    engine = make_engine(settings.hub_database_url or settings.database_url)
    upgrade(engine)
    return make_session_factory(engine)


def _in_unit(action: Any, actor: str = "cli:hub") -> Any:
    from lims.db.engine import session_scope
    from lims.services.errors import ServiceError

    try:
        with session_scope(_factory(), actor=actor) as s:
            return action(s)
    except ServiceError as exc:
        raise BadInput(str(exc), field=exc.field) from None


def _lab_doc(v: Any) -> dict[str, Any]:
    return {"code": v.code, "name": v.name, "region_code": v.region_code, "kind": v.kind,
            "keys": [{"fingerprint": k.fingerprint, "active": k.active,
                      "created_at": k.created_at.isoformat() if k.created_at else None,
                      "retired_at": k.retired_at.isoformat() if k.retired_at else None} for k in v.keys]}


def _print_lab(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
        return
    print(f"{doc['code']} {doc['name']} region={doc['region_code'] or '-'} kind={doc['kind']}")
    for k in doc["keys"]:
        print(f"  {k['fingerprint']} {'active' if k['active'] else 'retired ' + str(k['retired_at'])}")


def _lab_add(args: argparse.Namespace) -> int:
    from lims.hub.registry import add_lab_key

    try:
        pem = args.public_key.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read the public key: {exc}", file=args.public_key) from None
    view = _in_unit(lambda s: add_lab_key(s, args.code, pem, region_code=args.region, name=args.name,
                                          kind="hub" if args.relay else None))
    _print_lab(_lab_doc(view), args.json)
    return EXIT_OK


def _lab_retire(args: argparse.Namespace) -> int:
    from lims.hub.registry import retire_key

    _print_lab(_lab_doc(_in_unit(lambda s: retire_key(s, args.code, args.fingerprint))), args.json)
    return EXIT_OK


def _token_create(args: argparse.Namespace) -> int:
    from lims.hub.tokens import create_token

    token = _in_unit(lambda s: create_token(s, args.name))
    if args.json:
        emit_json({"name": args.name, "token": token})
    else:
        print(token)
        print("令牌只显示这一次，请妥善保存 / the token is shown only once", file=sys.stderr)
    return EXIT_OK


def _token_revoke(args: argparse.Namespace) -> int:
    from lims.hub.tokens import revoke_token

    _in_unit(lambda s: revoke_token(s, args.name))
    if args.json:
        emit_json({"name": args.name, "revoked": True})
    else:
        print(f"{args.name} revoked")
    return EXIT_OK


def _lab_list(args: argparse.Namespace) -> int:
    from lims.hub.registry import list_labs

    docs = [_lab_doc(v) for v in _in_unit(list_labs)]
    if args.json:
        emit_json({"labs": docs})
    else:
        for d in docs:
            _print_lab(d, False)
    return EXIT_OK


def _task_publish(args: argparse.Namespace) -> int:
    import json

    from lims.hub.tasks import publish

    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"cannot read the task notice: {exc}", file=args.file) from None
    code, state = _in_unit(lambda s: publish(s, doc))
    if args.json:
        emit_json({"code": code, "state": state})
    else:
        print(f"{code}: {state}")
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from lims.hub import analytics

    try:
        by = analytics.parse_by(args.by)
    except analytics.UnknownField as exc:
        raise BadInput(str(exc), field="--by") from None
    doc = _in_unit(lambda s: analytics.stats(s, by))
    if args.json:
        emit_json(doc)
    else:
        print(f"messages {doc['messages']}  results {doc['results']}  non-compliant {doc['non_compliant']}")
        for row in doc["rows"]:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    return EXIT_OK


def _reconcile_report(args: argparse.Namespace) -> int:
    from lims.hub import reconcile

    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        raise BadInput(f"not a date (YYYY-MM-DD): {args.date!r}", field="--date") from None
    doc = _in_unit(lambda s: reconcile.daily_report(s, day))
    if args.json:
        emit_json(doc)
    else:
        print(f"{doc['date']}: in flight {doc['in_flight']}")
        for lab in doc["labs"]:
            print(f"  {lab['lab']}: messages {lab['messages']} results {lab['results']} {lab['by_schema']}")
    return EXIT_OK


def _alerts(args: argparse.Namespace) -> int:
    from lims.config import Settings
    from lims.hub import alerts

    factory = _factory()
    url = Settings().hub_alert_webhook
    if args.notify:
        if not url:
            raise BadInput("LIMS_HUB_ALERT_WEBHOOK is not set", field="LIMS_HUB_ALERT_WEBHOOK")
        alerts.notify_pending(factory, url)
    with factory() as s:
        docs = alerts.list_alerts(s)
    if args.json:
        emit_json({"alerts": docs})
    else:
        for d in docs:
            print(f"{d['created_at']} {d['rule_zh']} {d['detail']}")
    return EXIT_OK


def _relay(args: argparse.Namespace) -> int:
    from lims.hub.relay import relay_worker

    try:
        worker = relay_worker(_factory())
    except ValueError as exc:
        raise BadInput(str(exc), field="LIMS_HUB_KEY") from None
    if worker is None:
        raise BadInput("LIMS_HUB_RELAY_URL is not set (the next hub's base URL)", field="LIMS_HUB_RELAY_URL")
    if not args.once:
        worker.run()
        return EXIT_OK
    delivered = worker.run_once()
    if args.json:
        emit_json({"delivered": delivered})
    else:
        print(f"relayed {delivered}", file=sys.stderr)
    return EXIT_OK if delivered >= 0 else EXIT_FAILURE
