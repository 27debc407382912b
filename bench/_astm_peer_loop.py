"""The peer of ``bench_astm_decode.py``: a plain python-astm (PyPI ``astm-2025``) loop over a raw capture.

What a user would write with python-astm to get the results of a sniffer capture: find the frames
(STX … CR LF), verify each frame's checksum once (``make_checksum``, a bad frame skipped), skip a retransmitted
frame, join ETB continuations, ``decode_record`` the records the output needs (H P O R L), keep sessions
at ENQ/EOT,
take the sample ID from the O record and the result fields from R records, and print one JSON document.

    .venv/bin/python bench/_astm_peer_loop.py CAPTURE > out.json
"""

from __future__ import annotations

import json
import re
import sys

from astm import codec

FRAME = re.compile(rb"[\x04\x05]|\x02.*?\r\n", re.S)


def text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else ""


def take_records(body: bytes, session: dict[str, object], sample: str | None) -> str | None:
    """Decode a record's text with python-astm; the results go to ``session``; returns the current sample."""
    for line in body.split(b"\r"):
        if line[:1] not in (b"H", b"O", b"R", b"P", b"L"):
            continue  # C, M, Q records and empty lines: nothing the output needs
        rec = codec.decode_record(line, "latin-1")
        kind = rec[0]
        if kind == "H":
            session["sender"] = session["sender"] or (
                "^".join(c or "" for c in rec[4]) if isinstance(rec[4], list) else rec[4])
            sample = None
        elif kind == "O":
            sample = rec[2]
        elif kind in ("P", "L"):
            sample = None
        elif kind == "R":
            rec = rec + [None] * (14 - len(rec))
            code = rec[2][3] if isinstance(rec[2], list) and len(rec[2]) > 3 else rec[2]
            session["results"].append({  # type: ignore[attr-defined]
                "sample_id": sample, "test_code": code, "value": text(rec[3]), "units": text(rec[4]),
                "flags": text(rec[6]), "status": text(rec[8]), "completed_at": text(rec[12]),
                "instrument": text(rec[13])})
    return sample


def main(path: str) -> int:
    data = open(path, "rb").read()
    sessions: list[dict[str, object]] = []
    session: dict[str, object] | None = None
    chunk: list[bytes] = []
    last = b""
    sample = None
    for m in FRAME.finditer(data):
        raw = m.group()
        if raw == b"\x05":
            session, chunk, last, sample = {"sender": None, "frames": 0, "rejected_frames": 0, "results": []}, [], b"", None
            continue
        if raw == b"\x04":
            if session is not None and session["frames"]:
                sessions.append(session)
            session = None
            continue
        if session is None or len(raw) < 7:
            continue
        session["frames"] += 1  # type: ignore[operator]
        if codec.make_checksum(raw[1:-4]) != raw[-4:-2]:
            session["rejected_frames"] += 1  # type: ignore[operator]
            continue
        if raw == last:
            continue
        last = raw
        chunk.append(raw)
        if raw[-5] != 0x03:
            continue
        sample = take_records(b"".join(c[2:-5] for c in chunk), session, sample)
        chunk = []
    sys.stdout.write(json.dumps({"sessions": sessions}, ensure_ascii=False))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
