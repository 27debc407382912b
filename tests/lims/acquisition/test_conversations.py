"""Runner conversations as (bytes written, bytes received) pairs from the manuals — the worked examples of
hardware-sim/PROTOCOLS.md and the profiles — played by a ScriptedLink that fails on any other write and on
any exchange left unused. No simulator, no pty: the binary, Modbus and line runners exactly as
``lims acquire`` builds them, on a scripted transport."""

from __future__ import annotations

import itertools
import struct

import pytest
from hardware_sim.gold import GoldStrip, record_line
from sqlalchemy import select

from drivers.transports.modbus import ModbusLink
from drivers.transports.scripted import ScriptedLink, ScriptMismatch
from lims.db.models import RawCapture, Reading

# --------------------------------------------------------------------------- (b) binary rapid tester

GET_STATUS = bytes.fromhex("AA 01 01 00 6F")
STATUS_READY_RUN_7 = bytes.fromhex("AA 01 81 03 02 00 07 75")
GET_RESULT = bytes.fromhex("AA 01 02 00 3A")
RESULT_RUN_7 = bytes.fromhex(
    "AA 01 82 1B"
    "00 07  19 03 0E 09 1E 05  3E E6 66 66  01"
    "01 01  3F 4F F2 E5  3F 8C F4 1F  42 0F 33 33"
    "51"
)
# ACK_RESULT (0x03) with run_no u16 7, and its reply (0x83): CRC-8/MAXIM of 01 03 02 00 07 and 01 83 02 00 07
ACK_RESULT_RUN_7 = bytes.fromhex("AA 01 03 02 00 07 89")
ACKED_RUN_7 = bytes.fromhex("AA 01 83 02 00 07 50")


def _captures(db_factory) -> list[tuple[bytes, str]]:  # type: ignore[no-untyped-def]
    with db_factory() as s:
        rows = s.execute(select(RawCapture.data, RawCapture.parse_status).order_by(RawCapture.id)).all()
    return [tuple(r) for r in rows]


def _readings(db_factory) -> list[Reading]:  # type: ignore[no-untyped-def]
    with db_factory() as s:
        return list(s.execute(select(Reading).order_by(Reading.id)).scalars())


def test_binary_poll_status_result_then_ack_result(db_factory, make_runner):
    with ScriptedLink([(GET_STATUS, STATUS_READY_RUN_7), (GET_RESULT, RESULT_RUN_7),
                       (ACK_RESULT_RUN_7, ACKED_RUN_7)]) as link:
        runner = make_runner("RT-S", "rapid_binary_16ch", link)
        runner.on_bytes(b"", 0.0)  # the first poll is due at once
    assert _captures(db_factory) == [(RESULT_RUN_7, "parsed")]  # the reply stored before it was confirmed
    [reading] = _readings(db_factory)
    assert (reading.record_type, reading.run_no, reading.channel) == ("GET_RESULT", "7", 1)
    assert reading.fields["inhibition_percent"] == pytest.approx(35.8, abs=1e-5)
    assert (runner.stats.polls, runner.stats.captures, runner.stats.readings, runner.stats.errors) == (1, 1, 1, 0)


def test_binary_reply_failing_its_crc_is_kept_rejected_and_asked_again(db_factory, make_runner):
    damaged = bytearray(RESULT_RUN_7)
    damaged[20] ^= 0x40  # one bit of channel 1's a0: the CRC no longer matches
    with ScriptedLink([(GET_STATUS, STATUS_READY_RUN_7), (GET_RESULT, bytes(damaged)), (GET_RESULT, RESULT_RUN_7),
                       (ACK_RESULT_RUN_7, ACKED_RUN_7)]) as link:
        runner = make_runner("RT-C", "rapid_binary_16ch", link, timeout_s=0.05)
        runner.on_bytes(b"", 0.0)
    assert _captures(db_factory) == [(bytes(damaged), "rejected"), (RESULT_RUN_7, "parsed")]
    assert len(_readings(db_factory)) == 1 and runner.stats.errors == 1


def test_binary_idle_device_is_not_asked_for_a_result(db_factory, make_runner):
    idle = bytes.fromhex("AA 01 81 03 00 00 07 3A")  # state 0 (idle), run 7
    with ScriptedLink([(GET_STATUS, idle)]) as link:
        runner = make_runner("RT-I", "rapid_binary_16ch", link)
        runner.on_bytes(b"", 0.0)
        runner.on_bytes(b"", 0.5)  # before the next poll is due: nothing is written
    assert _captures(db_factory) == [] and runner.stats.polls == 1


# --------------------------------------------------------------------------- (d) Modbus photometer (MBAP)


def _read_input_block(tid: int) -> bytes:
    """FC 04 read input registers 0..19 of unit 1 (MBAP: transaction id, protocol 0, length 6)."""
    return struct.pack(">HHHBBHH", tid, 0, 6, 1, 0x04, 0, 20)


def _block_reply(tid: int, registers: list[int]) -> bytes:
    data = struct.pack(f">{len(registers)}H", *registers)
    return struct.pack(">HHHBBB", tid, 0, 3 + len(data), 1, 0x04, len(data)) + data


# PROTOCOLS.md (d): STATUS bit0 READY + bit3 RESULT_AVAILABLE, ERROR 0, RESULT_COUNTER, reserved,
# float32 CDAB (1.0 = [0x0000, 0x3F80], 35.8 = [0x3333, 0x420F]), RESULT_SAMPLE_ID 2 chars per register
SAMPLE_ID = [0x5332, 0x3032, 0x3530, 0x3331, 0x3430, 0x3100, 0, 0]  # "S2025031401"
RESULT_1 = [0x0009, 0, 1, 0, 0x0000, 0x3F80, 0x3333, 0x420F, 0, 0, 0x0000, 0x3F80, *SAMPLE_ID]
BUSY = [0x0002, *RESULT_1[1:]]  # a new measurement started: RESULT_AVAILABLE cleared, the old values shown
RESULT_2 = [0x0009, 0, 2, 0, 0x0000, 0x3F80, 0x0000, 0x4120, 0, 0, 0x0000, 0x3F80, *SAMPLE_ID]  # 10.0 %


def test_modbus_polls_store_each_new_result_once(db_factory, make_runner):
    script = [(_read_input_block(1), _block_reply(1, RESULT_1)),
              (_read_input_block(2), _block_reply(2, RESULT_1)),  # the same result still on display
              (_read_input_block(3), _block_reply(3, BUSY)),
              (_read_input_block(4), struct.pack(">HHHBBB", 4, 0, 3, 1, 0x84, 0x04)),  # exception: device failure
              (_read_input_block(5), _block_reply(5, RESULT_2))]
    with ScriptedLink(script) as scripted:
        link = ModbusLink.over(scripted, device_id=1, timeout_s=0.2)
        runner = make_runner("PH-S", "modbus_photometric", link)
        assert link.connect()
        for due in range(5):
            runner._poll(float(due))
    assert [status for _data, status in _captures(db_factory)] == ["parsed", "parsed"]
    readings = _readings(db_factory)
    assert [(r.run_no, r.sample_code) for r in readings] == [("1", "S2025031401"), ("2", "S2025031401")]
    assert [r.fields["inhibition_percent"] for r in readings] == [pytest.approx(35.8, abs=1e-5), 10.0]
    assert (runner.stats.polls, runner.stats.failed_polls, runner.stats.captures) == (5, 1, 2)


# --------------------------------------------------------------------------- (c) colloidal-gold reader


def _line_conversation(runner, link: ScriptedLink) -> None:  # type: ignore[no-untyped-def]
    """Read and hand bytes to the runner until every exchange was played (the clock steps 0.5 s a read)."""
    clock = itertools.count(0.0, 0.5)
    for _ in range(50):
        if not link.remaining:
            return
        data = link.read(0.0)
        runner.on_bytes(data, next(clock))
        runner.after_bytes(data)


R1 = b"@GR;0001;20250314;093005;1;S2025031401;CLEN;1520;3210;0.474;POS;0.800;2B\r\n"  # PROTOCOLS.md (c)


def test_gold_reader_records_are_acked_a_damaged_one_naked_and_its_resend_acked(db_factory, make_runner):
    from datetime import datetime

    r2 = record_line(2, datetime(2025, 3, 14, 9, 30, 40), GoldStrip(2, "S2025031402", "CLEN", 2900, 3210))
    damaged = r2.replace(b";2900;", b";2906;")  # the checksum no longer matches
    with ScriptedLink([(None, R1), (b"ACK\r\n", None), (None, damaged), (b"NAK\r\n", None), (None, r2),
                       (b"ACK\r\n", None)]) as link:
        runner = make_runner("CG-S", "colloidal_gold_8lane", link)
        _line_conversation(runner, link)
    assert _captures(db_factory) == [(R1, "parsed"), (damaged, "error"), (r2, "parsed")]
    assert [(r.channel, r.sample_code) for r in _readings(db_factory)] == [(1, "S2025031401"), (2, "S2025031402")]


def test_a_write_the_script_does_not_expect_fails_the_conversation(db_factory, make_runner):
    # a reader whose profile would need NAK for this line: the runner's ACK is refused by the script
    link = ScriptedLink([(None, R1), (b"NAK\r\n", None)])
    runner = make_runner("CG-X", "colloidal_gold_8lane", link)
    with pytest.raises(ScriptMismatch, match="expected to write b'NAK\\\\r\\\\n', got b'ACK\\\\r\\\\n'"):
        runner.on_bytes(link.read(0.0), 0.0)
