"""Binary framed dialect, device (b), against the worked examples of hardware-sim/PROTOCOLS.md (b), and
the CRCs against the RevEng catalogue check values (CRC of ASCII "123456789")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.codecs.binary import (
    BinaryFrame,
    BinaryFramer,
    BinaryRejected,
    RequestSession,
    build_frame,
    decode_payload,
    encode_fields,
)
from drivers.codecs.checksums import CRC_CATALOGUE, crc
from drivers.errors import ChecksumError, ProtocolError
from drivers.profiles import load_profile

PROFILE = load_profile("rapid_binary_16ch")
STATUS_REPLY = bytes.fromhex("AA 01 81 03 02 00 07 75")
RESULT_REPLY = bytes.fromhex("AA 01 82 1B 00 07 19 03 0E 09 1E 05 3E E6 66 66 01"
                             "01 01 3F 4F F2 E5 3F 8C F4 1F 42 0F 33 33 51")


@pytest.mark.parametrize("name", sorted(CRC_CATALOGUE))
def test_crc_catalogue_check_values(name):
    spec = CRC_CATALOGUE[name]
    assert crc(spec, b"123456789") == spec.check


def test_requests_match_worked_examples():
    assert build_frame(PROFILE, "GET_STATUS") == bytes.fromhex("AA 01 01 00 6F")
    assert build_frame(PROFILE, "GET_RESULT") == bytes.fromhex("AA 01 02 00 3A")


def test_status_reply():
    (frame,) = BinaryFramer(PROFILE).feed(STATUS_REPLY)
    assert decode_payload(PROFILE, frame).fields == {"state": 2, "run_no": 7}


def test_result_reply():
    framer = BinaryFramer(PROFILE)
    items = []
    for i in range(len(RESULT_REPLY)):
        items += framer.feed(RESULT_REPLY[i:i + 1])
    (frame,) = items
    msg = decode_payload(PROFILE, frame)
    f = msg.fields
    assert msg.command == "GET_RESULT"
    assert (f["run_no"], f["year_since_2000"], f["month"], f["day"], f["hour"], f["minute"], f["second"]) == \
        (7, 25, 3, 14, 9, 30, 5)
    assert f["control_delta_a"] == pytest.approx(0.45, abs=1e-6)
    (ch,) = f["channels"]
    assert (ch["channel"], ch["sample_present"], ch["positive"], ch["channel_error"]) == (1, True, False, False)
    assert (ch["a0"], ch["a3"], ch["inhibition_percent"]) == pytest.approx((0.8123, 1.1012, 35.8), abs=1e-5)


def test_bad_crc_discards_sof_and_resyncs():
    bad = bytearray(STATUS_REPLY)
    bad[5] ^= 0x01
    items = BinaryFramer(PROFILE).feed(b"\x00" + bytes(bad) + STATUS_REPLY)
    frames = [i for i in items if isinstance(i, BinaryFrame)]
    assert [f.raw for f in frames] == [STATUS_REPLY]
    assert any(isinstance(i, BinaryRejected) and isinstance(i.error, ChecksumError) for i in items)


def test_request_session_and_timeout():
    session = RequestSession(PROFILE)
    assert session.request("ACK_RESULT", encode_fields(PROFILE, "ACK_RESULT", {"run_no": 7}), now=0.0) == \
        build_frame(PROFILE, 3, b"\x00\x07")
    assert session.feed(STATUS_REPLY, 0.1)[0] is None  # not the reply we wait for
    reply = build_frame(PROFILE, 0x83, b"\x00\x07")
    message, rejected = session.feed(reply, 0.2)
    assert message.command == "ACK_RESULT" and message.fields == {"run_no": 7} and rejected == []
    session.request("GET_STATUS", now=1.0)
    assert not session.timed_out(1.49) and session.timed_out(1.5)
    session.request("GET_RESULT", now=2.0)
    message, _ = session.feed(build_frame(PROFILE, 0xEE, b"\x03"), 2.1)
    assert (message.command, message.fields) == ("ERROR", {"error": 3})


@settings(max_examples=150, deadline=2000)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_arbitrary_bytes_only_typed_errors(chunks):
    framer = BinaryFramer(PROFILE)
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, BinaryFrame):
                try:
                    decode_payload(PROFILE, item)
                except ProtocolError:
                    pass


@settings(max_examples=150, deadline=2000)
@given(st.integers(0, len(RESULT_REPLY) * 8 - 1))
def test_single_bit_error_never_yields_a_frame(bit):
    corrupt = bytearray(RESULT_REPLY)
    corrupt[bit // 8] ^= 1 << (bit % 8)
    frames = [i for i in BinaryFramer(PROFILE).feed(bytes(corrupt)) if isinstance(i, BinaryFrame)]
    assert all(f.raw == RESULT_REPLY for f in frames)
