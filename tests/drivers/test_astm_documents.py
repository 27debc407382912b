"""The fast session JSON of a capture (``drivers.codecs.astm.documents``, behind ``lims astm decode --json``)
is byte for byte the JSON of ``session_document`` over ``decode_capture``, on clean sessions and on every
fault the full decoder names (LIS01-A2 framing and checksums, LIS02-A2 delimiters and escapes)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs.astm.capture import decode_capture, session_document
from drivers.codecs.astm.documents import session_json
from drivers.codecs.astm.frames import build_frame, build_frames

ENQ, ACK, NAK, EOT = b"\x05", b"\x06", b"\x15", b"\x04"
HEADER = rb"H|\^&|||GC-2030^Shimadzu|||||||P|1|20240520103500"
RECORDS = [
    HEADER,
    b"P|1",
    b"O|1|V240520-001||^^^OP|R",
    b"R|1|^^^chlorpyrifos|0.012|mg/kg||N||F||||20240520103000|GC01",
    b"R|2|^^^dimethoate|<0.005|mg/kg||N||F||||20240520103100|GC01",
    b"O|2|||^^^OP|R",
    b"R|1|dichlorvos|0.3",
    b"R|2|^^X|1",
    b"C|1|I|comment|G",
    b"L|1|N",
]


def reference(data: bytes, encoding: str = "latin-1") -> list[str]:
    return [json.dumps(session_document(s), ensure_ascii=False, allow_nan=False)
            for s in decode_capture(data, encoding=encoding)]


def session(records: list[bytes], *, max_text: int = 240) -> bytes:
    return ENQ + ACK + b"".join(f + ACK for f in build_frames(records, max_text=max_text)) + EOT


def check(data: bytes, encoding: str = "latin-1") -> list[str]:
    got = list(session_json(data, encoding=encoding))
    assert got == reference(data, encoding)
    return got


def test_clean_sessions_in_a_row() -> None:
    data = session(RECORDS) + session(RECORDS[:4] + [b"L|1|N"]) + session(RECORDS, max_text=20)
    docs = [json.loads(t) for t in check(data)]
    assert [d["sender"] for d in docs] == ["GC-2030^Shimadzu"] * 3
    assert [r["test_code"] for r in docs[0]["results"]] == ["chlorpyrifos", "dimethoate", "dichlorvos", None]
    assert [r["sample_id"] for r in docs[0]["results"]] == ["V240520-001", "V240520-001", None, None]
    assert docs[1]["offset"] == len(session(RECORDS))


@pytest.mark.parametrize("fault", ["checksum", "resend", "number", "unfinished", "no_enq", "no_eot", "noise",
                                   "busy", "etx_without_cr", "restricted", "lowercase_hex"])
def test_faults_between_clean_sessions(fault: str) -> None:
    frames = build_frames(RECORDS)
    bad = bytearray(frames[3])
    bad[8] ^= 0x01
    middle = {
        "checksum": ENQ + ACK + frames[0] + ACK + frames[1] + ACK + frames[2] + ACK + bytes(bad) + NAK
        + b"".join(f + ACK for f in frames[3:]) + EOT,
        "resend": ENQ + ACK + b"".join(f + ACK for f in frames[:4]) + frames[3] + ACK
        + b"".join(f + ACK for f in frames[4:]) + EOT,
        "number": ENQ + ACK + frames[0] + ACK + build_frame(5, b"R|1|^^^x|1\r", True) + ACK + EOT,
        "unfinished": ENQ + ACK + frames[0] + ACK + build_frame(2, b"R|1|^^^x|1", False) + ACK + EOT,
        "no_enq": b"".join(f + ACK for f in frames) + EOT,
        "no_eot": ENQ + ACK + b"".join(f + ACK for f in frames),
        "noise": ENQ + ACK + frames[0] + b"\x00\xff" + b"".join(f + ACK for f in frames[1:]) + EOT,
        "busy": ENQ + NAK + ENQ + NAK + EOT,
        "etx_without_cr": ENQ + ACK + build_frame(1, HEADER, True) + ACK + build_frame(2, b"O|1|S-1\r", True)
        + ACK + EOT,
        "restricted": ENQ + ACK + build_frame(1, HEADER + b"\r", True) + ACK + build_frame(2, b"O|1|S\x11\r", True)
        + ACK + EOT,
        "lowercase_hex": ENQ + ACK + frames[0][:-4] + frames[0][-4:-2].lower() + b"\r\n" + ACK + EOT,
    }[fault]
    check(session(RECORDS) + middle + session(RECORDS) + b"garbage" + session(RECORDS))
    check(middle)
    check(middle + session(RECORDS))


def test_frame_numbers_wrap_and_long_records() -> None:
    records = [HEADER, b"O|1|S-1"] + [b"R|%d|^^^A%d|%s|mg/kg" % (i, i, b"9" * (i * 37)) for i in range(1, 30)]
    (doc,) = check(session(records + [b"L|1|N"]))
    assert json.loads(doc)["frames"] > 16


@pytest.mark.parametrize("records", [
    [b"H!~@$!!!LC-20", b"O!1!S~2", b"R!1!@@@pyrethrin@x!1$S$2!ug/kg", b"L!1!N"],  # other delimiters
    [HEADER, b"O|1|S&F&1", b"R|1|^^^A&S&B|1&E&2|mg/kg"],  # escapes
    [rb"H|\^&|||GC&S&1", b"O|1|S-1", b"R|1|^^^A|1"],  # an escape in the header
    [HEADER, b'O|1|S"1\\2', b'R|1|^^^A"B|1\\2|mg/kg|\t'],  # what JSON escapes
    [HEADER, "O|1|样品-1".encode(), "R|1|^^^毒死蜱|0.1|µg/kg".encode()],
    [b"H", b"H|\\", b"O|1|S", b"R|1|^^^A|1"],  # malformed headers
    [b"P|1", b"R", b"R|1||", b"R|1|^^^^^|v"],  # no header, short records
])
def test_records_the_full_decoder_resolves(records: list[bytes]) -> None:
    data = session(records) + session(RECORDS)
    check(data)
    check(data, encoding="utf-8")


def test_undecodable_text_raises_as_before() -> None:
    data = session([HEADER, b"O|1|S\xff"])
    with pytest.raises(UnicodeDecodeError):
        reference(data, "utf-8")
    with pytest.raises(UnicodeDecodeError):
        list(session_json(data, encoding="utf-8"))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_captures_match_the_full_decoder(seed: int) -> None:
    rng = random.Random(seed)
    out = b""
    for _ in range(rng.randint(1, 6)):
        frames = build_frames(rng.sample(RECORDS, rng.randint(1, len(RECORDS))), max_text=rng.choice([240, 30]))
        out += rng.choice([ENQ + ACK, ENQ, b""])
        for frame in frames:
            roll = rng.random()
            if roll < 0.1:
                bad = bytearray(frame)
                bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
                out += bytes(bad) + NAK
            if roll < 0.95:
                out += frame + ACK
            if 0.9 < roll:
                out += frame + ACK
        out += rng.choice([EOT, EOT, EOT, b"", b"\x00noise"])
    check(out)
