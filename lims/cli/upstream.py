"""`lims upstream keygen | public-key | run | status | requeue` (CONTRACTS.md, Upstream delivery (lab side)).

Settings: ``LIMS_UPSTREAM_URL`` (the hub), ``LIMS_UPSTREAM_KEY`` (the lab's Ed25519 private key, PEM),
``LIMS_LAB_CODE``, ``LIMS_DATABASE_URL``. Heavy modules are imported by the handlers, so ``lims --help``
stays fast."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, command_group, emit_json, on_database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "upstream", "上报上级数据中心 / upstream delivery")
    k = actions.add_parser("keygen", help="create the lab's Ed25519 key (never overwrites)")
    k.add_argument("--out", type=Path, help="key file (default LIMS_UPSTREAM_KEY)")
    k.add_argument("--json", action="store_true")
    k.set_defaults(handler=_keygen)
    p = actions.add_parser("public-key", help="the public key to register at the hub")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_public_key)
    r = actions.add_parser("run", help="deliver due outbox messages (until SIGTERM, or --once)")
    r.add_argument("--once", action="store_true", help="deliver what is due now and exit")
    r.add_argument("--json", action="store_true")
    r.set_defaults(handler=_run)
    s = actions.add_parser("status", help="outbox counts")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=_status)
    t = actions.add_parser("tasks", help="pull the monitoring tasks the hub publishes; queue progress upstream")
    t.add_argument("--json", action="store_true")
    t.set_defaults(handler=_tasks)
    rc = actions.add_parser("reconcile", help="ask the hub which delivered messages it holds; re-send the missing")
    rc.add_argument("--json", action="store_true")
    rc.set_defaults(handler=_reconcile)
    q = actions.add_parser("requeue", help="put dead-lettered messages back in the queue (audited)")
    q.add_argument("ids", nargs="*", type=int, metavar="ID")
    q.add_argument("--dead", action="store_true", help="every dead-lettered message")
    q.add_argument("--reason", default="", help="why (recorded in the audit trail)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=_requeue)


def _key_path(explicit: Path | None = None) -> Path:
    from lims.config import Settings

    path = explicit or Settings().upstream_key
    if path is None:
        raise BadInput("no key file: give --out FILE or set LIMS_UPSTREAM_KEY", field="LIMS_UPSTREAM_KEY")
    return Path(path)


def _load(path: Path) -> Any:
    from lims.upstream.signing import load_key

    if not path.is_file():
        raise BadInput("no key here (create it with `lims upstream keygen`)", file=path)
    try:
        return load_key(path)
    except ValueError as exc:
        raise BadInput(f"not an Ed25519 private key in PEM: {exc}", file=path) from None


def _describe(key: Any) -> dict[str, str]:
    from lims.upstream.signing import fingerprint, public_key_pem

    return {"public_key_pem": public_key_pem(key), "fingerprint": fingerprint(key)}


def _keygen(args: argparse.Namespace) -> int:
    from lims.upstream.signing import KeyExists, create_key

    path = _key_path(args.out)
    try:
        key = create_key(path)
    except KeyExists as exc:
        raise BadInput(str(exc)) from None
    except OSError as exc:
        raise BadInput(f"cannot write the key: {exc.strerror}", file=path) from None
    doc = {"key_path": str(path), **_describe(key)}
    if args.json:
        emit_json(doc)
    else:
        print(f"created {path} (fingerprint {doc['fingerprint']}); register this public key at the hub:\n"
              f"{doc['public_key_pem']}", end="")
    return EXIT_OK


def _public_key(args: argparse.Namespace) -> int:
    doc = _describe(_load(_key_path()))
    if args.json:
        emit_json(doc)
    else:
        print(doc["public_key_pem"], end="")
    return EXIT_OK


def _worker(engine: Any) -> Any:
    from lims.config import Settings
    from lims.db import audit
    from lims.db.engine import make_session_factory
    from lims.upstream.delivery import Worker

    settings = Settings()
    if not settings.upstream_url:
        raise BadInput("LIMS_UPSTREAM_URL is not set (the hub's base URL)", field="LIMS_UPSTREAM_URL")
    key = _load(_key_path())
    audit.install()
    return Worker(make_session_factory(engine), key, hub_url=settings.upstream_url, lab_code=settings.lab_code,
                  timeout_s=settings.upstream_timeout_s,
                  tasks_every_s=3600.0)


def _reconcile(args: argparse.Namespace) -> int:
    """lims.hub.client.reconcile (the hub helper's): {asked, held, missing, resent, failed}."""
    import httpx

    from lims.db.engine import make_engine
    from lims.hub.client import reconcile

    engine = make_engine()
    try:
        worker = _worker(engine)
        with httpx.Client(timeout=30) as client:
            out = reconcile(worker.factory, client, worker.key, hub_url=worker.hub_url, lab_code=worker.lab_code)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"lims upstream reconcile: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    doc = {"asked": out.asked, "held": out.held, "missing": out.missing, "resent": out.resent, "failed": out.failed}
    if args.json:
        emit_json(doc)
    else:
        print(f"asked {out.asked}; held {out.held}; missing {len(out.missing)}; re-sent {len(out.resent)}; "
              f"failed {len(out.failed)}")
    return EXIT_OK if not out.failed else EXIT_FAILURE


def _status_of(engine: Any) -> Any:
    from sqlalchemy.orm import Session

    from lims.upstream.queue import status

    with Session(engine) as s:
        return status(s)


def _run(args: argparse.Namespace) -> int:
    from lims.db.engine import make_engine

    engine = make_engine()
    try:
        worker = _worker(engine)
        if not args.once:
            def stop(_signum: int, _frame: object) -> None:
                worker.stop()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            print(f"lims upstream run: delivering to {worker.hub_url} as {worker.lab_code}", file=sys.stderr,
                  flush=True)
            worker.run()
            return EXIT_OK
        delivered = worker.run_once()
        state = _status_of(engine)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"lims upstream run: {engine.url.render_as_string()}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        engine.dispose()
    doc = {"delivered": delivered, "pending": state.pending, "failed": state.failed,
           "dead_letter": state.dead_letter}
    if args.json:
        emit_json(doc)
    else:
        print(f"delivered {delivered}; pending {state.pending} ({state.failed} failed, retried later); "
              f"dead letters {state.dead_letter}")
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    state = on_database("lims upstream status: cannot read", _status_of)
    if state is None:
        return EXIT_FAILURE
    if args.json:
        emit_json(state.as_json())
    else:
        doc = state.as_json()
        print(f"pending {doc['pending']} (oldest {doc['oldest_pending_at'] or '—'}), delivered {doc['delivered']}, "
              f"dead letters {doc['dead_letter']}")
    return EXIT_OK


def _requeue(args: argparse.Namespace) -> int:
    if args.dead == bool(args.ids):
        raise BadInput("give either --dead or message IDs", field="ID")
    from lims.db import audit
    from lims.db.engine import make_session_factory, session_scope
    from lims.services.errors import ServiceError
    from lims.upstream.queue import requeue

    actor = f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"
    reason = args.reason or "re-queued with lims upstream requeue"

    def action(engine: Any) -> list[int]:
        audit.install()
        with session_scope(make_session_factory(engine), actor=actor, reason=reason) as s:
            return requeue(s, list(args.ids), dead=args.dead)

    try:
        ids = on_database_raising(action)
    except ServiceError as exc:
        raise BadInput(str(exc), field="ID") from None
    if ids is None:
        return EXIT_FAILURE
    if args.json:
        emit_json({"requeued": ids})
    else:
        print(f"re-queued {len(ids)} message(s): {', '.join(map(str, ids)) or '—'}")
    return EXIT_OK


def on_database_raising(action: Any) -> Any:
    """Like :func:`on_database`, but a service refusal (unknown ID, not dead) reaches the caller."""
    from lims.services.errors import ServiceError

    def guarded(engine: Any) -> Any:
        try:
            return ("ok", action(engine))
        except ServiceError as exc:
            return ("refused", exc)

    out = on_database("lims upstream requeue: cannot write to", guarded)
    if out is None:
        return None
    if out[0] == "refused":
        raise out[1]
    return out[1]


def _tasks(args: argparse.Namespace) -> int:
    """`lims upstream tasks`: {created, updated, unchanged, refused, progress_queued}; an unreachable hub or a
    bad task list is exit 1 with one line."""
    from lims.db.engine import make_engine
    from lims.upstream.tasks import TaskFeedError

    engine = make_engine()
    try:
        worker = _worker(engine)
        try:
            sync, queued = worker.sync_tasks()
        except TaskFeedError as exc:
            print(f"lims upstream tasks: {worker.hub_url}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    finally:
        engine.dispose()
    doc = {**sync.as_json(), "progress_queued": queued}
    if args.json:
        emit_json(doc)
    else:
        print(f"tasks: {len(sync.created)} new, {len(sync.updated)} updated, {len(sync.unchanged)} unchanged, "
              f"{len(sync.refused)} refused; {queued} progress message(s) queued")
        for line in sync.refused:
            print(f"  refused {line}", file=sys.stderr)
    return EXIT_OK
