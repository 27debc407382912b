"""`lims worklist show | send | list` (issue 13): worklists built from the day's batch, never hand-written.

- ``show --batch CODE`` (or ``--instrument CODE``: the instrument's open queue): position → sample → analyses;
  ``--csv FILE --run N`` writes the channel worklist of a tester without sample IDs on the wire
  (``run_no,channel,sample_code``: the file ``[[instrument]] worklist =`` of ``lims acquire`` reads);
- ``send --instrument CODE [--batch CODE]``: stores it for ``lims acquire`` to send (ASTM order records,
  Modbus sample-ID registers, or the next run's channel map); audited;
- ``list --instrument CODE``: the instrument's worklists and what became of them (pending, sent, applied,
  failed with the link's reason, cancelled).

Database: ``LIMS_DATABASE_URL``. Unknown batch or instrument, nothing to send: exit 2 naming the option.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, command_group, emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    actions = command_group(sub, "worklist", "工作清单：由批次生成、下发仪器 / worklists from batches, sent to instruments")
    show = actions.add_parser("show", help="the worklist of a batch or of an instrument's open queue")
    show.add_argument("--batch", help="batch code")
    show.add_argument("--instrument", help="instrument code (without --batch: its open queue)")
    show.add_argument("--csv", type=Path, help="write the channel worklist CSV (run_no,channel,sample_code)")
    show.add_argument("--run", help="with --csv: the run number the channels belong to")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    send = actions.add_parser("send", help="store the worklist for `lims acquire` to send to the instrument")
    send.add_argument("--instrument", required=True, help="instrument code")
    send.add_argument("--batch", help="batch code (default: the instrument's open queue)")
    send.add_argument("--json", action="store_true")
    send.set_defaults(handler=_send)
    lst = actions.add_parser("list", help="an instrument's worklists and their status")
    lst.add_argument("--instrument", required=True, help="instrument code")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)


def _unit(work: Callable[[Any], Any]) -> Any:
    """``work(session)`` in one unit of work; a refusal names its option (exit 2); a database failure is one
    line and exit 1 (None)."""
    import sys

    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory, session_scope
    from lims.services.errors import ServiceError

    audit.install()
    actor = f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"
    engine = make_engine()
    try:
        with session_scope(make_session_factory(engine), actor=actor, reason="lims worklist") as s:
            return work(s)
    except ServiceError as exc:
        raise BadInput(str(exc), field=f"--{exc.field}" if exc.field else None) from None
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"lims worklist: database {engine.url.render_as_string()}: {exc}", file=sys.stderr)
        return None
    finally:
        engine.dispose()


def _print_entries(entries: list[dict[str, Any]]) -> None:
    for e in entries:
        tests = ", ".join(a["test_code"] for a in e["analyses"])
        print(f"{e['position']:>3}  {e['sample_code']:<20} {tests}")


def _show(args: argparse.Namespace) -> int:
    from lims.acquisition.orders import build_worklist

    if not args.batch and not args.instrument:
        raise BadInput("give --batch CODE or --instrument CODE", field="--batch")
    if args.csv is not None and not args.run:
        raise BadInput("--csv needs --run N (the run the channels belong to)", field="--run")
    wl = _unit(lambda s: build_worklist(s, batch_code=args.batch, instrument_code=args.instrument))
    if wl is None:
        return EXIT_FAILURE
    if args.csv is not None:
        import csv

        try:
            with args.csv.open("w", encoding="utf-8", newline="") as fh:
                out = csv.writer(fh)
                out.writerow(["run_no", "channel", "sample_code"])
                out.writerows([str(args.run), str(e["position"]), e["sample_code"]] for e in wl["entries"])
        except OSError as exc:
            raise BadInput(f"cannot write: {exc.strerror or exc}", file=args.csv) from None
    if args.json:
        emit_json(wl)
    else:
        print(f"worklist of {'batch ' + wl['batch'] if wl['batch'] else 'the open queue'}"
              f"{' for ' + wl['instrument'] if wl['instrument'] else ''}: {len(wl['entries'])} position(s)")
        _print_entries(wl["entries"])
    return EXIT_OK


def _send(args: argparse.Namespace) -> int:
    from lims.acquisition.orders import send_worklist

    stored = _unit(lambda s: send_worklist(s, args.instrument, batch_code=args.batch))
    if stored is None:
        return EXIT_FAILURE
    if args.json:
        emit_json(stored)
    else:
        print(f"worklist {stored['id']} for {stored['instrument']}: {len(stored['entries'])} position(s), "
              f"{stored['status']} (lims acquire sends it)")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from lims.acquisition.orders import list_worklists

    rows = _unit(lambda s: list_worklists(s, args.instrument))
    if rows is None:
        return EXIT_FAILURE
    if args.json:
        emit_json({"instrument": args.instrument, "worklists": rows})
    else:
        for w in rows:
            print(f"{w['id']:>5}  {w['status']:<9} {w['batch'] or '(queue)':<14} {len(w['entries']):>3} position(s)"
                  f"  {w['sent_at'] or ''}  {w['detail']}")
    return EXIT_OK
