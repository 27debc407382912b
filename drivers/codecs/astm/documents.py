"""Session documents of a raw ASTM capture as JSON, fast: the text of ``json.dumps(session_document(s))`` for
each session ``decode_capture(data)`` gives, in one pass over the bytes (issue 17: ``lims astm decode`` of a 17 MB capture).

A session that is clean — ENQ, only well-formed frames (LIS01-A2 framing, text of at most 240 bytes without
restricted characters) with ACK/NAK between them, EOT — is decoded with a few C-level calls over its bytes:
the frames are found by one regular expression, each frame's checksum is checked (Adler-32's low byte, as
:func:`~drivers.codecs.astm.frames.parse_frame` does), the frame numbers must run 1, 2, … 7, 0, 1 … (mod 8),
every record must end in its ETX frame with its CR, the text is the frames' text joined (LIS01-A2 §8.3) and
records are split at CR and fields at the default delimiters (E1394 H.2 ``|\\^&``). Anything else — a bad
checksum, a retransmission, a frame out of sequence, other delimiters, an escape sequence (LIS02-A2 §6.6),
noise, a session cut short — goes through :class:`~drivers.codecs.astm.capture.CaptureDecoder`, which
names the fault; a clean session is taken on the fast path only when that decoder holds nothing open, so
the documents and their order are the same as the decoder's alone.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from itertools import repeat
from operator import itemgetter

from drivers.codecs.astm.capture import CaptureDecoder, CaptureSession, session_document
from drivers.codecs.astm.frames import _TRAILERS, ETX
from drivers.codecs.astm.records import H_SENDER, O_SPECIMEN_ID

_TEXT = rb"[^\x01-\x06\x0a\x10-\x17]{0,240}"  # frame text: no restricted byte (LIS01-A2 §8.3), ≤ 240 bytes
_FRAME = rb"\x02[0-7]" + _TEXT + rb"[\x03\x17][0-9A-F]{2}\r\n"
_SESSION_RE = re.compile(rb"\x05[\x06\x15]*(?:" + _FRAME + rb"[\x06\x15]*)+\x04")
_FRAME_RE = re.compile(_FRAME)
_NUMBER_RE = re.compile(rb"\x02([0-7])")
_NUMBERS = b"12345670" * 64
_TRAILER = itemgetter(slice(-5, None))
_FRAME_TEXT = itemgetter(slice(2, -5))
_LOW = {trailer: low for trailer, (_final, low) in _TRAILERS.items()}
_HEADER = "H|\\^&"  # the default delimiters (E1394 7.1.2)
_R_FIELDS = 14
#: A record whose fields JSON writes as they are (no quote, backslash or control character to escape).
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]').search
_js = json.encoder.encode_basestring  # json.dumps(str, ensure_ascii=False)
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_RESULT = ('{"sample_id": %s, "test_code": %s, "value": "%s", "units": "%s", "flags": "%s", "status": "%s", '
           '"completed_at": "%s", "instrument": "%s"}')
_RESULT_ESCAPED = ('{"sample_id": %s, "test_code": %s, "value": %s, "units": %s, "flags": %s, "status": %s, '
                   '"completed_at": %s, "instrument": %s}')
_SESSION = ('{"sender": %s, "frames": %d, "rejected_frames": 0, "results": [%s], "offset": %d, "complete": true, '
            '"records": %d, "rejections": [], "problems": []}')


def session_json(data: bytes, *, encoding: str = "latin-1") -> Iterator[str]:
    """The JSON text of every session document of ``data``, in order: each is
    ``json.dumps(session_document(s), ensure_ascii=False)`` of the session ``decode_capture`` gives."""
    dec = CaptureDecoder(encoding=encoding)
    pos = 0
    for m in _SESSION_RE.finditer(data):
        start, end = m.span()
        if start > pos:
            yield from _documents(dec.feed(data[pos:start]))
        text = _clean_session(m.group(), start, encoding) if dec.idle else None
        if text is None:
            yield from _documents(dec.feed(data[start:end]))
        else:
            dec.skip(end - start)
            yield text
        pos = end
    yield from _documents(dec.feed(data[pos:]))
    yield from _documents(dec.close())


def _documents(sessions: list[CaptureSession]) -> Iterator[str]:
    return (_dumps(session_document(s)) for s in sessions)


def _frames_text(span: bytes) -> tuple[int, bytes] | None:
    """(frame count, the frames' text joined) when checksums hold, numbers run on from 1, each record ends
    with its CR in an ETX frame and the last frame is ETX; else None."""
    frames = _FRAME_RE.findall(span)
    n = len(frames)
    numbers = b"".join(_NUMBER_RE.findall(span))
    expected = _NUMBERS[:n] if n <= len(_NUMBERS) else (_NUMBERS * (n // len(_NUMBERS) + 1))[:n]
    if numbers != expected or frames[-1][-5] != ETX or span.count(b"\x03") != span.count(b"\r\x03"):
        return None
    # Adler-32's low byte against the trailer's (see frames._trailer_table), frame by frame, in C
    if list(map(int.__and__, map(zlib.adler32, frames), repeat(0xFF))) != list(map(_LOW.__getitem__,
                                                                                    map(_TRAILER, frames))):
        return None
    return n, b"".join(map(_FRAME_TEXT, frames))


def _clean_session(span: bytes, offset: int, encoding: str) -> str | None:
    """The document of a clean session ``span`` (ENQ … EOT at ``offset``), or None to decode it in full."""
    found = _frames_text(span)
    if found is None:
        return None
    try:
        text = found[1].decode(encoding)
    except UnicodeDecodeError:
        return None  # the full decoder reports it
    records = _records(text)
    if records is None:
        return None
    sender, count, results = records
    return _SESSION % (sender, found[0], ", ".join(results), offset, count)


def _records(text: str) -> tuple[str, int, list[str]] | None:
    """(sender as JSON, record count, results as JSON) of a session's text, or None when it needs the full
    decoder (an escape sequence, other delimiters)."""
    sender: str | None = None
    sample = "null"
    results: list[str] = []
    records = 0
    for line in text.split("\r"):
        if not line:
            continue
        records += 1
        kind = line[0]
        if "&" in line and (kind != "H" or line.count("&") != 1):
            return None  # an escape sequence may follow: resolved by the full decoder
        if kind == "R":
            results.append(_result(line, sample))
        elif kind == "O":
            f = line.split("|", O_SPECIMEN_ID)
            sample = _js(f[O_SPECIMEN_ID - 1]) if len(f) >= O_SPECIMEN_ID and f[O_SPECIMEN_ID - 1] else "null"
        elif kind == "H":
            if not line.startswith(_HEADER):
                return None  # other delimiters, or a malformed header: the full decoder
            if sender is None:
                f = line.split("|", H_SENDER)
                sender = _js(f[H_SENDER - 1]) if len(f) >= H_SENDER and f[H_SENDER - 1] else "null"
            sample = "null"
        elif kind == "P" or kind == "L":
            sample = "null"
    return sender or "null", records, results


def _result(line: str, sample: str) -> str:
    """One R record's result as JSON (sample: the JSON of the preceding O.3, or null)."""
    f = line.split("|")
    if len(f) < _R_FIELDS:
        f += [""] * (_R_FIELDS - len(f))
    comps = f[2].split("\\", 1)[0].split("^")
    code = comps[3] if len(comps) >= 4 else comps[0] if len(comps) == 1 else ""
    if _NEEDS_ESCAPE(line) is None:
        return _RESULT % (sample, f'"{code}"' if code else "null", f[3], f[4], f[6], f[8], f[12], f[13])
    return _RESULT_ESCAPED % (sample, _js(code) if code else "null", _js(f[3]), _js(f[4]), _js(f[6]),
                              _js(f[8]), _js(f[12]), _js(f[13]))
