"""The TL310 and TY16 simulators against the cited reader's layout (soldiers1989/UploadSoftWare @ 9f7fab87:
clsTL310.cs, clsTY16.cs/ucTTNJ16.cs), over real ptys, with an independent host side written here."""

from __future__ import annotations

import struct
from datetime import datetime

from hardware_sim.faults import Faults
from hardware_sim.rapid_downloads import TL310Record, TL310Sim, TY16Group, TY16Sim, crc8_31

from .conftest import read_until_quiet

WHEN = datetime(2026, 12, 6, 9, 30, 15)


def test_crc8_31_reproduces_the_cited_comm_test_reply():
    assert crc8_31(bytes.fromhex("02 04 00 FF 02 10 10")) == 0xF8  # 7E 02 04 00 FF 02 10 10 F8 AA
    assert crc8_31(b"123456789") == 0xA2


def test_tl310_download_over_pty(open_serial):
    sim = TL310Sim([TL310Record(1, WHEN, 42.3), TL310Record(2, WHEN, None), TL310Record(5, WHEN, 71.0, 1)],
                   drop_records=(2,))
    port = open_serial(sim.start_pty(), baudrate=115200)
    try:
        port.write(bytes.fromhex("7E 15 04 00 FF FF FF FF") + bytes([crc8_31(bytes.fromhex("15 04 00 FF FF FF FF"))])
                   + b"\xaa")
        data = read_until_quiet(port)
    finally:
        sim.stop()
    assert len(data) == 2 * 27  # record 2 dropped (fault)
    for i, (number, channel, x10, verdict) in enumerate([(1, 1, 423, 2), (3, 5, 710, 1)]):
        rec = data[27 * i:27 * (i + 1)]
        assert rec[0] == 0x7E and rec[-1] == 0xAA and crc8_31(rec[1:25]) == rec[25]
        assert struct.unpack("<HH", rec[5:9]) == (3, number) and rec[9] == channel
        assert tuple(rec[11:17]) == (26, 12, 6, 9, 30, 15)
        assert struct.unpack("<H", rec[21:23])[0] == x10 and rec[23] == verdict


def test_tl310_na_record_and_last_record_request():
    sim = TL310Sim([TL310Record(1, WHEN, 10.0), TL310Record(2, WHEN, None)])
    ((number, frame),) = sim.frames(0x000000FF)  # "read last": FF 00 00 00 little-endian
    assert number == 2 and struct.unpack("<H", frame[21:23])[0] == 0x7FFE


def test_ty16_conversation_over_pty(open_serial):
    sim = TY16Sim([TY16Group(WHEN, (12.5, None, 61.25)), TY16Group(WHEN, (None,) * 7 + (3.0,))],
                  faults=Faults(slow_byte_delay_s=0.0))
    port = open_serial(sim.start_pty(), baudrate=9600)
    replies = []
    try:
        for command in (b"\x1b\xbf", b"\x1b\xb1", b"\x24", b"\x24"):
            port.write(command)
            replies.append(read_until_quiet(port, quiet_s=0.15))
    finally:
        sim.stop()
    assert [len(r) for r in replies] == [2, 75, 73, 2]
    assert replies[0] == b"\x1b\x02" and replies[3] == b"\x1b\xfe"
    first, second = replies[1][2:], replies[2]
    assert tuple(first[i] for i in (0, 1, 2, 3, 4, 6)) == (15, 30, 9, 6, 12, 26)
    assert first[7] == 0b1010_0000 and second[7] == 0b0000_0001
    assert struct.unpack(">f", first[13:17])[0] == 12.5 and struct.unpack(">f", first[29:33])[0] == 61.25
    assert struct.unpack(">f", second[69:73])[0] == 3.0


def test_ty16_faults_short_reply_and_missing_end():
    sim = TY16Sim([TY16Group(WHEN, (1.0,))], omit_end=True)
    assert sim.reply_to(b"\x1b\xb1") is not None and sim.reply_to(b"\x24") is None
