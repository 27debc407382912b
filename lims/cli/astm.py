"""`lims astm` (CONTRACTS.md): ``lims astm decode FILE --json`` decodes a raw ASTM E1381/E1394 capture."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from lims.cli.common import EXIT_OK, BadInput, emit_json


def _decode(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read file: {exc.strerror or exc}", file=path) from None
    if args.json and _streamable(data, args.encoding):
        from drivers.codecs.astm.documents import session_json  # when run, not for --help

        _write_sessions(session_json(data, encoding=args.encoding))
        return EXIT_OK
    from drivers.codecs.astm.capture import decode_capture, session_document

    try:
        sessions = decode_capture(data, encoding=args.encoding)
    except LookupError:
        raise BadInput(f"unknown encoding {args.encoding!r}", field="--encoding") from None
    doc = {"sessions": [session_document(s) for s in sessions]}
    if args.json:
        emit_json(doc)
        return EXIT_OK
    for i, s in enumerate(doc["sessions"], 1):
        print(f"session {i} at byte {s['offset']}: sender {s['sender'] or '-'}, {s['frames']} frames, "
              f"{s['rejected_frames']} rejected, {len(s['results'])} results")
        for rej in s["rejections"]:
            print(f"  rejected frame at byte {rej['offset']}: {rej['message']}")
        for r in s["results"]:
            print(f"  {r['sample_id'] or '-'}  {r['test_code'] or '-'} = {r['value']} {r['units']}  "
                  f"[{r['status']}] {r['completed_at']}")
        for p in s["problems"]:
            print(f"  note: {p}")
    if not doc["sessions"]:
        print("no ASTM sessions found", file=sys.stderr)
    return EXIT_OK


def _streamable(data: bytes, encoding: str) -> bool:
    """Whether every record of ``data`` will decode in ``encoding`` (then the JSON can be streamed; an unknown
    encoding or undecodable text takes the path that decodes everything first and reports it as before)."""
    import codecs

    try:
        if codecs.lookup(encoding).name != "iso8859-1":  # latin-1 decodes any bytes
            data.decode(encoding)  # valid as a whole ⇒ every frame's text (cut at ASCII bytes) is valid
    except (LookupError, UnicodeDecodeError):
        return False
    return True


def _write_sessions(sessions: Iterator[str], batch: int = 256) -> None:
    """``{"sessions": [...]}`` written as the sessions are decoded (each item the JSON of one session): the
    bytes ``emit_json`` would print for the whole document (``json.dumps``, default separators)."""
    write = sys.stdout.write
    write('{"sessions": [')
    pending: list[str] = []
    first = True
    for text in sessions:
        pending.append(text)
        if len(pending) >= batch:
            write(("" if first else ", ") + ", ".join(pending))
            first, pending = False, []
    if pending:
        write(("" if first else ", ") + ", ".join(pending))
    write("]}\n")
    sys.stdout.flush()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``lims astm decode``."""
    parser = sub.add_parser("astm", help="ASTM E1381/E1394 tools")
    astm_sub = parser.add_subparsers(dest="astm_command", metavar="SUBCOMMAND")
    decode = astm_sub.add_parser("decode", help="decode a raw capture of ASTM sessions (ENQ … EOT)")
    decode.add_argument("file", metavar="FILE", help="raw capture, control bytes included")
    decode.add_argument("--json", action="store_true", help="print one JSON document")
    decode.add_argument("--encoding", default="latin-1", help="text encoding of the records (default latin-1)")
    decode.set_defaults(handler=_decode)
