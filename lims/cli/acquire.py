"""`lims acquire [--config FILE]` (CONTRACTS.md): runs the configured instruments' drivers.

Instruments, transports and watch folders come from a TOML file (format: :mod:`lims.acquisition.config`;
default ``acquire.toml`` in the working directory, or ``LIMS_ACQUIRE_CONFIG``). Every instrument runs on its
own thread until Ctrl-C / SIGTERM (or ``--duration``). ``--reparse CODE`` parses again the captures in error
of one instrument (after a profile fix) and exits.

Both directions: worklists stored with ``lims worklist send`` (or the API) are sent while it runs — ASTM
order records, Modbus sample-ID registers, or the next run's channel map — and ASTM host queries are
answered from the open batches on the instrument. An instrument with ``expected_interval_s`` raises a link
alert when it sends nothing for longer (events ``link_silent`` / ``link_resumed``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from lims.cli.common import BadInput, emit_json


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("acquire", help="run the configured instruments' drivers",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None,
                   help="acquisition configuration (TOML; default $LIMS_ACQUIRE_CONFIG or ./acquire.toml)")
    p.add_argument("--reparse", metavar="INSTRUMENT", default=None,
                   help="re-parse the captures in error of this instrument code, then exit")
    p.add_argument("--profile", default=None, help="with --reparse: use this profile (name or .toml path)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="print one JSON document (statistics) at the end")
    p.add_argument("-v", "--verbose", action="store_true", help="log link events to stderr")
    p.set_defaults(handler=run)


def _factory(url: str | None) -> Any:
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory

    audit.install()
    return make_session_factory(make_engine(url))


def _reparse(args: argparse.Namespace) -> int:
    from drivers.errors import ProfileError
    from drivers.profiles import load_profile
    from lims.acquisition.reparse import reparse_instrument

    url = None
    if args.config is not None or os.environ.get("LIMS_ACQUIRE_CONFIG"):
        url = _load(args).database_url
    profile = None
    if args.profile:
        try:
            profile = load_profile(args.profile)
        except ProfileError as exc:
            raise BadInput(str(exc), field="--profile") from None
    try:
        stats = reparse_instrument(_factory(url), args.reparse, actor=os.environ.get("USER", "acquire"),
                                   profile=profile)
    except LookupError as exc:
        raise BadInput(str(exc).strip("'\""), field="--reparse") from None
    doc = {"instrument": args.reparse, "readings": stats.readings, "errors": stats.errors,
           "error_messages": stats.error_messages}
    if args.json:
        emit_json(doc)
    else:
        print(f"{args.reparse}: {stats.readings} readings, {stats.errors} captures still in error")
    return 0


def _load(args: argparse.Namespace) -> Any:
    from lims.acquisition import ConfigError, load_config

    path = args.config or Path(os.environ.get("LIMS_ACQUIRE_CONFIG", "acquire.toml"))
    try:
        return load_config(path)
    except ConfigError as exc:
        raise BadInput(exc.detail, file=exc.file, field=exc.key) from None


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.reparse:
        return _reparse(args)
    from lims.acquisition import AcquisitionService
    from lims.acquisition.service import UnknownInstrument

    config = _load(args)
    service = AcquisitionService(config, _factory(config.database_url))
    try:
        service.prepare()
    except UnknownInstrument as exc:
        raise BadInput(str(exc), file=config.path) from None

    def _stop(_signo: int, _frame: object) -> None:
        service.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not args.json:
        print(f"acquiring from {len(config.instruments)} instrument(s) and {len(config.watches)} watch "
              f"folder(s); Ctrl-C to stop", file=sys.stderr)
    service.run(args.duration)
    if args.json:
        emit_json({"instruments": [{"name": r.code, "runner": r.kind, "crashes": r.crashes, **r.stats}
                                   for r in service.report()]})
    return 0
