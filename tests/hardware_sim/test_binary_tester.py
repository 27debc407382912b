"""Device (b) against PROTOCOLS.md (b): CRC-8/MAXIM-DOW, frames, request/response session."""

from __future__ import annotations

import struct
import time
from datetime import datetime

import pytest
from hardware_sim.binary_tester import BinaryTesterSim, RequestParser, crc8_maxim, result_payload
from hardware_sim.enzyme import ChannelReading, SimSample
from hardware_sim.faults import Faults

# reveng CRC catalogue, CRC-8/MAXIM-DOW: width=8 poly=0x31 init=0x00 refin=true refout=true
# xorout=0x00 check=0xa1 (check = CRC of ASCII "123456789")
CATALOGUE_CHECK = (b"123456789", 0xA1)
# PROTOCOLS.md (b) worked examples
GET_STATUS = bytes.fromhex("AA 01 01 00 6F")
GET_RESULT = bytes.fromhex("AA 01 02 00 3A")
STATUS_READY_RUN_7 = bytes.fromhex("AA 01 81 03 02 00 07 75")
RESULT_EXAMPLE = bytes.fromhex(
    "AA 01 82 1B 00 07 19 03 0E 09 1E 05 3E E6 66 66 01 01 01 3F 4F F2 E5 3F 8C F4 1F 42 0F 33 33 51")


def test_crc_catalogue_check_value():
    data, check = CATALOGUE_CHECK
    assert crc8_maxim(data) == check


def test_worked_example_payload_from_protocols_md():
    readings = [ChannelReading(0, "CONTROL", 0.30, 0.75, 0.0), ChannelReading(1, "S", 0.8123, 1.1012, 35.8)]
    payload = result_payload(7, datetime(2025, 3, 14, 9, 30, 5), readings)
    # control ΔA float32(0.75 - 0.30) == float32(0.45)
    assert bytes([0xAA, 0x01, 0x82, len(payload)]) + payload + bytes([RESULT_EXAMPLE[-1]]) == RESULT_EXAMPLE
    assert crc8_maxim(RESULT_EXAMPLE[1:-1]) == 0x51


def _exchange(port, request: bytes, expect: int | None = None) -> bytes:
    port.reset_input_buffer()
    port.write(request)
    deadline = time.monotonic() + 2
    data = b""
    while time.monotonic() < deadline:
        data += port.read(512)
        if len(data) >= 4 and len(data) >= 5 + data[3]:
            break
    return data


def test_session_over_pty(open_serial):
    sim = BinaryTesterSim([SimSample(1, "S1", 35.8), SimSample(5, "S5", 62.0)], run_no=7, runs=2, seed=4,
                          reply_delay_s=0.0)
    try:
        port = open_serial(sim.start_pty(), baudrate=9600)
        assert _exchange(port, GET_STATUS) == STATUS_READY_RUN_7
        reply = _exchange(port, GET_RESULT)
        assert reply[:4] == bytes([0xAA, 0x01, 0x82, 13 + 2 * 14])
        assert crc8_maxim(reply[1:-1]) == reply[-1]
        run_no, *_ = struct.unpack(">H6B", reply[4:12])
        (control_delta,) = struct.unpack(">f", reply[12:16])
        assert run_no == 7 and reply[16] == 2
        assert control_delta == pytest.approx(0.45, abs=1e-4)
        for k, (ch, flags, inhibition) in enumerate([(1, 0x01, 35.8), (5, 0x03, 62.0)]):
            rec = reply[17 + 14 * k: 31 + 14 * k]
            c, f, a0, a3, inh = struct.unpack(">BBfff", rec)
            assert (c, f) == (ch, flags)
            assert inh == pytest.approx(inhibition, abs=0.1)
            assert (control_delta - (a3 - a0)) / control_delta * 100 == pytest.approx(inh, abs=0.06)
        # a corrupted request gets the bad-CRC error frame
        assert _exchange(port, GET_RESULT[:-1] + b"\x3B") == bytes.fromhex("AA 01 EE 01 01") + bytes(
            [crc8_maxim(bytes.fromhex("01 EE 01 01"))])
        ack = bytes.fromhex("01 03 02 00 07")
        assert _exchange(port, b"\xAA" + ack + bytes([crc8_maxim(ack)]))[4:6] == b"\x00\x07"
        status = _exchange(port, GET_STATUS)
        assert status[4:7] == bytes([2, 0, 8])  # the next run is ready
        other = bytes.fromhex("02 01 00")
        port.write(b"\xAA" + other + bytes([crc8_maxim(other)]))
        time.sleep(0.2)
        assert port.read(100) == b""  # another address: no reply
    finally:
        sim.stop()
    assert sim.acked_runs == [7]


def test_parser_resyncs_after_noise():
    parser = RequestParser()
    reqs = parser.feed(b"\x00\xAA\x01" + GET_STATUS + GET_RESULT, now=0.0)
    assert [(r.cmd, r.crc_ok) for r in reqs][-2:] == [(0x01, True), (0x02, True)]


def test_malformed_reply_has_bad_crc_and_is_logged(open_serial):
    sim = BinaryTesterSim([SimSample(1, "S1", 10.0)], seed=1, faults=Faults(malformed_lines=(0,)), reply_delay_s=0)
    try:
        port = open_serial(sim.start_pty())
        bad = _exchange(port, GET_STATUS)
        good = _exchange(port, GET_STATUS)
    finally:
        sim.stop()
    assert crc8_maxim(bad[1:-1]) != bad[-1] and bad[:-1] == good[:-1]
    assert crc8_maxim(good[1:-1]) == good[-1]
    assert [e.index for e in sim.events if e.kind == "malformed"] == [0]


def test_over_tcp(open_serial):
    sim = BinaryTesterSim([SimSample(2, "S2", 20.0)], run_no=7, seed=1, reply_delay_s=0)
    try:
        port = open_serial(f"socket://127.0.0.1:{sim.start_tcp()}")
        assert _exchange(port, GET_STATUS) == STATUS_READY_RUN_7
    finally:
        sim.stop()
