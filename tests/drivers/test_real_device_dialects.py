"""The TL310 and TY16 profiles (real instrument models, drivers/profiles/tl310_pesticide.toml and
ty16_pesticide.toml) against bytes written here from the cited reader's byte offsets
(soldiers1989/UploadSoftWare @ 9f7fab87: clsTL310.cs, clsTY16.cs) — independent of the simulators."""

from __future__ import annotations

import struct

import pytest

from drivers.codecs.binary import (
    BinaryFrame,
    BinaryFramer,
    BinaryRejected,
    RequestSession,
    build_frame,
    decode_fixed,
    decode_payload,
)
from drivers.codecs.checksums import CRC_CATALOGUE, crc
from drivers.errors import ChecksumError, FramingError
from drivers.profiles import load_profile

TL310 = load_profile("tl310_pesticide")
TY16 = load_profile("ty16_pesticide")
#: the comm-test reply quoted by the source, byte for byte
TL310_COMM_TEST_REPLY = bytes.fromhex("7E 02 04 00 FF 02 10 10 F8 AA")


def tl310_record(total: int, number: int, channel: int, inhibition_x10: int, verdict: int) -> bytes:
    """A 27-byte record frame: data bytes at the source's offsets (frame byte = data byte + 4)."""
    data = bytearray(21)
    data[0] = 0xFF
    data[1:3] = struct.pack("<H", total)  # frame bytes 5-6
    data[3:5] = struct.pack("<H", number)  # 7-8
    data[5], data[6] = channel, 0  # 9, 10
    data[7:13] = bytes([26, 12, 6, 9, 30, 15])  # 11-16: yy MM dd hh mm ss
    data[17:19] = struct.pack("<H", inhibition_x10)  # 21-22
    data[19] = verdict  # 23
    body = bytes([0x16]) + struct.pack("<H", 21) + bytes(data)
    value = crc(CRC_CATALOGUE["crc8-31"], body)
    return b"\x7e" + body + bytes([value]) + b"\xaa"


def ty16_group(values: list[float | None], *, first: bool) -> bytes:
    """A group reply: 73 bytes (first: 75, two prefix bytes), slots from byte 13, 8 bytes apart."""
    rec = bytearray(73)
    rec[0:5] = bytes([15, 30, 9, 6, 12])  # ss mm hh dd MM
    rec[6] = 26  # yy
    rec[7] = sum(1 << (7 - i) for i, v in enumerate(values) if v is not None)
    for i, v in enumerate(values):
        if v is not None:
            rec[13 + 8 * i:17 + 8 * i] = struct.pack(">f", v)
    return (b"\x1b\xb1" if first else b"") + bytes(rec)


def test_tl310_frames_as_the_source_shows_them():
    assert len(tl310_record(3, 1, 1, 523, 2)) == 27
    frames = BinaryFramer(TL310).feed(b"\x00" + TL310_COMM_TEST_REPLY)
    frame = next(f for f in frames if isinstance(f, BinaryFrame))
    assert (frame.command, frame.payload) == (0x02, bytes.fromhex("FF 02 10 10"))
    assert build_frame(TL310, "READ_RECORDS", struct.pack("<I", 0xFFFFFFFF)) == bytes.fromhex(
        "7E 15 04 00 FF FF FF FF 4D AA")


def test_tl310_record_decodes_by_the_source_offsets():
    (frame,) = BinaryFramer(TL310).feed(tl310_record(8, 5, 3, 523, 1))
    assert isinstance(frame, BinaryFrame)
    msg = decode_payload(TL310, frame)
    assert msg.command == "READ_RECORDS"
    f = msg.fields
    assert (f["total"], f["record_no"], f["channel"], f["inhibition_percent"], f["verdict"]) == (8, 5, 3, 523, 1)
    assert (f["year_since_2000"], f["month"], f["day"], f["hour"], f["minute"], f["second"]) == (26, 12, 6, 9, 30, 15)
    assert "bytes_17_20" not in f


@pytest.mark.parametrize(("damage", "error"), [(-2, ChecksumError), (-1, FramingError)])
def test_tl310_damaged_frames_are_rejected(damage, error):
    raw = bytearray(tl310_record(1, 1, 1, 100, 2))
    raw[damage] ^= 0x01
    items = BinaryFramer(TL310).feed(bytes(raw))
    assert not any(isinstance(i, BinaryFrame) for i in items)
    assert any(isinstance(i, BinaryRejected) and isinstance(i.error, error) for i in items)


def test_ty16_group_replies_decode_present_slots_only():
    msg = decode_fixed(TY16, "READ_FIRST", ty16_group([12.5, None, 61.25, None, None, None, None, 3.0], first=True))
    assert [(c["channel"], c["inhibition_percent"]) for c in msg.fields["channels"]] == [(1, 12.5), (3, 61.25),
                                                                                        (8, 3.0)]
    assert (msg.fields["year_since_2000"], msg.fields["month"], msg.fields["second"]) == (26, 12, 15)
    nxt = decode_fixed(TY16, "READ_NEXT", ty16_group([float("nan")] + [None] * 7, first=False))
    assert len(nxt.fields["channels"]) == 1  # a NaN float is decoded; the acquisition layer types it
    assert decode_fixed(TY16, "READ_NEXT", b"\x1b\xfe").command == "END"
    with pytest.raises(FramingError):
        decode_fixed(TY16, "READ_NEXT", bytes(72))


def test_ty16_request_session_pairs_a_request_with_its_fixed_length_reply():
    session = RequestSession(TY16)
    assert session.request("READ_FIRST", now=0.0) == b"\x1b\xb1"
    reply = ty16_group([40.0] * 8, first=True)
    assert session.feed(reply[:30], 0.1) == (None, [])
    msg, rejected = session.feed(reply[30:], 0.2)
    assert msg is not None and msg.command == "READ_FIRST" and rejected == []
    assert session.request("READ_NEXT", now=0.3) == b"\x24"
    msg, _ = session.feed(b"\x1b\xfe", 0.4)
    assert msg is not None and msg.command == "END"
    assert session.request("READ_NEXT", now=0.5) == b"\x24"
    assert session.timed_out(10.0)


def test_every_profile_says_truthfully_what_it_is_written_from():
    from drivers.profiles import available_profiles

    for name in available_profiles():
        p = load_profile(name)
        assert p.manufacturer and p.manufacturer != "generic", name
        if p.manufacturer.startswith("generic"):
            assert p.manufacturer == "generic (documented layout)" and not p.sources, name
        else:  # a named model: cites the public source it was written from (repository@commit:path)
            assert p.sources and all("@" in s and ":" in s for s in p.sources), name
