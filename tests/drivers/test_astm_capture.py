"""``lims astm decode FILE --json`` (CONTRACTS.md) and the capture decoder behind it.

Captures are built from the DOMAIN.md frame rules (checksum example ``<STX>1A|B|C|D<CR><ETX>BF<CR><LF>``)
with the receiver's ACK/NAK interleaved as a sniffer records them; field positions per LIS02-A2 (O.3
specimen ID, R.3 universal test ID ``^^^code``, R.4 value, R.5 units, R.7 flags, R.9 status, R.13 completed,
R.14 instrument).
"""

from __future__ import annotations

import argparse
import json
import sys

import pytest

from drivers.codecs.astm.capture import decode_capture
from drivers.codecs.astm.frames import build_frame, build_frames
from drivers.codecs.astm.records import R_TEST_ID, R_UNITS, R_VALUE, Delimiters, encode_record, parse_record
from lims.cli import astm as astm_cli
from lims.cli.common import BadInput

ENQ, ACK, NAK, EOT = b"\x05", b"\x06", b"\x15", b"\x04"
HEADER = rb"H|\^&|||GC-2030|||||||P|1|20240520103500"
RECORDS = [
    HEADER,
    b"P|1",
    b"O|1|V240520-001||^^^OP|R",
    b"R|1|^^^chlorpyrifos|0.012|mg/kg||N||F||||20240520103000|GC01",
    b"O|2|V240520-002||^^^OP|R",
    b"R|1|^^^dimethoate|<0.005|mg/kg||N||F||||20240520103100|GC01",
    b"L|1|N",
]


def main(argv):
    """The ``lims`` entry point restricted to the ``astm`` command (same BadInput → exit 2 mapping)."""
    parser = argparse.ArgumentParser(prog="lims")
    astm_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except BadInput as exc:
        print(f"lims {args.command}: {exc}", file=sys.stderr)
        return 2


def session(records, *, corrupt=None, answers=None):
    frames = build_frames(records)
    out = ENQ + ACK
    for i, frame in enumerate(frames):
        if corrupt == i:
            bad = bytearray(frame)
            bad[5] ^= 0x01
            out += bytes(bad) + NAK
        out += frame + ACK
    return out + EOT


def run_cli(tmp_path, capsys, data, *args):
    path = tmp_path / "capture.bin"
    path.write_bytes(data)
    code = main(["astm", "decode", str(path), *args])
    return code, capsys.readouterr()


def test_decode_json_contract(tmp_path, capsys):
    code, out = run_cli(tmp_path, capsys, session(RECORDS), "--json")
    assert code == 0
    doc = json.loads(out.out)
    (s,) = doc["sessions"]
    assert (s["sender"], s["frames"], s["rejected_frames"]) == ("GC-2030", 7, 0)
    assert s["results"] == [
        {"sample_id": "V240520-001", "test_code": "chlorpyrifos", "value": "0.012", "units": "mg/kg",
         "flags": "N", "status": "F", "completed_at": "20240520103000", "instrument": "GC01"},
        {"sample_id": "V240520-002", "test_code": "dimethoate", "value": "<0.005", "units": "mg/kg",
         "flags": "N", "status": "F", "completed_at": "20240520103100", "instrument": "GC01"},
    ]


def test_bad_checksum_reported_and_retransmission_decoded(tmp_path, capsys):
    code, out = run_cli(tmp_path, capsys, session(RECORDS, corrupt=3), "--json")
    (s,) = json.loads(out.out)["sessions"]
    assert (s["frames"], s["rejected_frames"]) == (8, 1)
    assert s["rejections"][0]["error"] == "ChecksumError"
    assert [r["value"] for r in s["results"]] == ["0.012", "<0.005"]


def test_wrong_frame_number_never_decoded():
    frames = build_frames(RECORDS)
    wrong = build_frame(6, b"R|1|^^^parathion|9.9|mg/kg||N||F\r", True)
    data = ENQ + ACK + b"".join(f + ACK for f in frames[:3]) + wrong + NAK + b"".join(
        f + ACK for f in frames[3:]) + EOT
    (s,) = decode_capture(data)
    assert [r.error for r in s.rejected] == ["FrameNumberError"]
    assert "parathion" not in [r.test_code for r in s.results]
    assert [r.test_code for r in s.results] == ["chlorpyrifos", "dimethoate"]


def test_lost_ack_retransmission_decoded_once():
    frames = build_frames(RECORDS)
    data = ENQ + ACK + b"".join(f + ACK for f in frames[:4]) + frames[3] + ACK + b"".join(
        f + ACK for f in frames[4:]) + EOT
    (s,) = decode_capture(data)
    assert len(s.results) == 2 and s.rejected == ()


def test_record_split_over_etb_frames_is_joined():
    long_value = "1." + "2" * 400
    records = [HEADER, b"O|1|S-1", b"R|1|^^^X|" + long_value.encode() + b"|mg/kg", b"L|1|N"]
    (s,) = decode_capture(session(records))
    assert s.frames == 5  # H, O, R (418 bytes with CR: 240 + 178), L
    assert [r.value for r in s.results] == [long_value]


def test_corrupted_etb_frame_drops_whole_record_unless_resent():
    records = [HEADER, b"O|1|S-1", b"R|1|^^^X|" + b"7" * 400, b"L|1|N"]
    frames = build_frames(records)
    bad = bytearray(frames[2])
    bad[40] ^= 0x10
    data = ENQ + ACK + frames[0] + ACK + frames[1] + ACK + bytes(bad) + NAK + EOT
    (s,) = decode_capture(data)
    assert s.results == () and len(s.rejected) == 1


def test_two_sessions_garbage_between_and_delimiters_from_header():
    other = [b"H!~@$!!!LC-20", b"O!1!S~2", b"R!1!@@@pyrethrin@x!1$S$2!ug/kg", b"L!1!N"]
    data = session(RECORDS) + b"\xff\x00noise" + session(other)
    first, second = decode_capture(data)
    assert second.sender == "LC-20"
    d = Delimiters("!", "~", "@", "$")
    assert (second.results[0].sample_id, second.results[0].test_code, second.results[0].value) == \
        ("S~2", "pyrethrin", "1@2")
    assert d.unescape("$F$$S$$R$$E$") == "!@~$"


def test_escapes_round_trip():
    d = Delimiters()
    text = encode_record("R", ["1", ["", "", "", "A|B"], "x^y\\z&w", "µg/kg"], d)
    assert text == "R|1|^^^A&F&B|x&S&y&R&z&E&w|µg/kg"
    rec = parse_record(text, d)
    assert (rec.component(R_TEST_ID, 4), rec.value(R_VALUE), rec.value(R_UNITS)) == ("A|B", "x^y\\z&w", "µg/kg")


def test_missing_file_is_bad_input(tmp_path, capsys):
    code = main(["astm", "decode", str(tmp_path / "nope.bin"), "--json"])
    err = capsys.readouterr()
    assert code == 2 and err.out == "" and "nope.bin" in err.err


@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage", b"\x05\x15\x05\x15"])
def test_no_sessions(tmp_path, capsys, data):
    code, out = run_cli(tmp_path, capsys, data, "--json")
    assert code == 0 and json.loads(out.out) == {"sessions": []}
