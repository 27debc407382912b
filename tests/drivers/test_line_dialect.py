"""ASCII line dialect, device (a): enzyme-inhibition tester (wire protocol in issue 3).

Checksums: HH = XOR of the bytes after '#' up to '*'. The XOR routine is checked against the NMEA 0183
example sentence ``$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47`` (same scheme),
and ``#END,12,2*7E`` was worked by hand:
45^4E=0B, ^44=4F, ^2C=63, ^31=52, ^32=60, ^2C=4C, ^32=7E.
"""

from __future__ import annotations

import os
import time
import tty

import pytest

from drivers.codecs.checksums import xor8
from drivers.codecs.line import (
    LineDecoder,
    LineFramer,
    LineRecord,
    LineRejected,
    RawLine,
    RunCompleted,
    RunIncomplete,
    parse_line,
)
from drivers.errors import ChecksumError, FieldError, FramingError, ProfileError, UnknownRecordError
from drivers.profiles import load_profile
from drivers.transports.serial import open_serial, open_serial_for_profile

RUN = b"#RUN,12,2024-05-20 09:30:00,16*48\r\n"
CONTROL = b"#CH,12,00,CONTROL,0.9012,0.4521,0.0*69\r\n"
CH1 = b"#CH,12,01,V240520-001,0.8934,0.6123,37.4*5C\r\n"
CH2 = b"#CH,12,02,V240520-002,0.9101,0.8150,78.8*5E\r\n"
END3 = b"#END,12,3*7F\r\n"  # 7E ^ 32 ^ 33 = 7F
STREAM = RUN + CONTROL + CH1 + CH2 + END3


@pytest.fixture(scope="module")
def profile():
    return load_profile("enzyme_ascii_16ch")


def test_xor8_nmea_reference():
    assert xor8(b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == 0x47
    assert xor8(b"END,12,2") == 0x7E


def test_profile_serial_settings(profile):
    assert (profile.serial.baudrate, profile.serial.bytesize, profile.serial.parity, profile.serial.stopbits) \
        == (9600, 8, "N", 1)
    assert profile.serial.xonxoff is False and profile.serial.rtscts is False


def test_parse_channel_line(profile):
    rec = parse_line(profile, CH1)
    assert rec == LineRecord("CH", {"run_no": 12, "channel": 1, "sample_id": "V240520-001", "a0": 0.8934,
                                    "a3": 0.6123, "inhibition_percent": 37.4}, "V240520-001", 1)


def test_parse_run_and_end(profile):
    assert parse_line(profile, RUN).fields == {"run_no": 12, "started_at": "2024-05-20 09:30:00",
                                               "n_channels": 16}
    end = parse_line(profile, b"#END,12,2*7E\r\n")
    assert (end.record_type, end.fields, end.sample_id, end.channel) == ("END", {"run_no": 12, "count": 2},
                                                                         None, None)


def test_bad_checksum_names_offset(profile):
    with pytest.raises(ChecksumError) as info:
        parse_line(profile, CH1.replace(b"*5C", b"*5D"), offset=1000)
    assert info.value.offset == 1000 + CH1.index(b"*") + 1


def test_corrupted_digit_is_rejected_by_checksum(profile):
    with pytest.raises(ChecksumError):
        parse_line(profile, CH1.replace(b"37.4", b"87.4"))


def test_wrong_field_count(profile):
    line = b"#CH,12,01,V1,0.8934,0.6123*" + b"%02X" % xor8(b"CH,12,01,V1,0.8934,0.6123") + b"\r\n"
    with pytest.raises(FieldError, match="5 fields, expected 6"):
        parse_line(profile, line)


def test_non_numeric_field_names_field_and_offset(profile):
    payload = b"CH,12,01,V1,0.89X4,0.6123,37.4"
    line = b"#" + payload + b"*" + b"%02X" % xor8(payload) + b"\r\n"
    with pytest.raises(FieldError) as info:
        parse_line(profile, line, offset=50)
    assert info.value.field == "a0"
    assert info.value.offset == 50 + line.index(b"0.89X4")
    assert "a0" in str(info.value) and "byte offset" in str(info.value)


@pytest.mark.parametrize("bad_id", [b"", b"A" * 25, b"S 1", b"S.1"])
def test_sample_id_pattern(profile, bad_id):
    payload = b"CH,12,01," + bad_id + b",0.8934,0.6123,37.4"
    with pytest.raises(FieldError, match="sample_id"):
        parse_line(profile, b"#" + payload + b"*" + b"%02X" % xor8(payload) + b"\r\n")


@pytest.mark.parametrize("raw, error", [
    (CH1[:-2], FramingError),                              # no terminator
    (CH1[1:], FramingError),                               # no start char
    (CH1.replace(b"*5C", b"*5c"), FramingError),           # lowercase hex
    (CH1.replace(b"*5C", b""), FramingError),              # no checksum
    (b"#XX,1*" + b"%02X" % xor8(b"XX,1") + b"\r\n", UnknownRecordError),
    (b"#CH,12,17,V1,0.8934,0.6123,37.4*" + b"%02X" % xor8(b"CH,12,17,V1,0.8934,0.6123,37.4") + b"\r\n",
     FieldError),                                           # channel above 16
])
def test_malformed_lines(profile, raw, error):
    with pytest.raises(error):
        parse_line(profile, raw)


def test_framer_offsets_and_split_feeds(profile):
    framer = LineFramer(profile)
    lines = []
    for i in range(len(STREAM)):  # one byte at a time, so the CR LF terminator is split across feeds
        lines += framer.feed(STREAM[i:i + 1])
    assert lines == [RawLine(0, RUN), RawLine(len(RUN), CONTROL), RawLine(len(RUN + CONTROL), CH1),
                     RawLine(len(RUN + CONTROL + CH1), CH2), RawLine(len(RUN + CONTROL + CH1 + CH2), END3)]
    assert framer.flush() == []


def test_framer_flush_partial_and_resync(profile):
    framer = LineFramer(profile)
    # the terminator of CH1 is lost: the next '#' starts a new line
    lines = framer.feed(CH1[:-2] + CH2 + b"#END")
    assert lines == [RawLine(0, CH1[:-2]), RawLine(len(CH1) - 2, CH2)]
    assert framer.flush() == [RawLine(len(CH1) - 2 + len(CH2), b"#END")]


def test_framer_bounds_memory_on_noise(profile):
    framer = LineFramer(profile)
    lines = framer.feed(b"x" * 1000)
    lines += framer.flush()
    assert sum(len(x.raw) for x in lines) == 1000
    assert all(len(x.raw) <= profile.line.max_line_bytes for x in lines)


def test_decoder_completes_run(profile):
    events = LineDecoder(profile).feed(STREAM)
    runs = [e for e in events if isinstance(e, RunCompleted)]
    assert len(runs) == 1
    assert runs[0].key == 12
    assert [(r.channel, r.sample_id) for r in runs[0].items] == [(0, "CONTROL"), (1, "V240520-001"),
                                                                 (2, "V240520-002")]


def test_decoder_rejected_line_makes_run_incomplete(profile):
    events = LineDecoder(profile).feed(RUN + CONTROL + CH1.replace(b"37.4", b"37.5") + CH2 + END3)
    assert any(isinstance(e, LineRejected) and isinstance(e.error, ChecksumError) for e in events)
    assert not any(isinstance(e, RunCompleted) for e in events)
    (incomplete,) = [e for e in events if isinstance(e, RunIncomplete)]
    assert incomplete.key == 12 and len(incomplete.items) == 2


def test_decoder_count_mismatch(profile):
    events = LineDecoder(profile).feed(RUN + CONTROL + CH1 + b"#END,12,2*7E\r\n")
    assert [len(e.items) for e in events if isinstance(e, RunCompleted)] == [2]
    events = LineDecoder(profile).feed(RUN + CONTROL + END3)
    (incomplete,) = [e for e in events if isinstance(e, RunIncomplete)]
    assert "counts 3 items, 1 received" in incomplete.reason


def test_profile_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[profile]\ndialect = "ascii_line"\n[line]\nchecksum = "md5"\n'
                   '[[line.records]]\ntag = "X"\nfields = [{name = "a"}]\n')
    with pytest.raises(ProfileError, match=r"bad\.toml.*line\.checksum"):
        load_profile(bad)
    bad.write_text('[profile]\ndialect = "ascii_line"\n[line]\n[[line.records]]\ntag = "X"\n'
                   'fields = [{name = "a", type = "complex"}]\n')
    with pytest.raises(ProfileError, match=r"line\.records\[0\]\.fields\[0\]\.type"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="no such profile"):
        load_profile("no_such_device")


def _pty_pair():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    return master, slave


def test_stream_over_pty(profile):
    master, slave = _pty_pair()
    port = open_serial_for_profile(os.ttyname(slave), profile)
    try:
        os.write(master, STREAM)
        decoder = LineDecoder(profile)
        events = []
        deadline = time.monotonic() + 3
        while not any(isinstance(e, RunCompleted) for e in events) and time.monotonic() < deadline:
            events += decoder.feed(port.read(256))
        (run,) = [e for e in events if isinstance(e, RunCompleted)]
        assert [r.fields["inhibition_percent"] for r in run.items] == [0.0, 37.4, 78.8]
        assert port.baudrate == 9600 and port.parity == "N"
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def test_open_serial_loop_url():
    port = open_serial("loop://", timeout=0.5)
    try:
        port.write(CH1)
        assert port.read(len(CH1)) == CH1
    finally:
        port.close()


def test_protocols_md_worked_example_enzyme(profile):
    # hardware-sim/PROTOCOLS.md (a), worked example
    stream = (b"#RUN,1,2025-03-14 09:30:05,1*49\r\n#CH,1,00,CONTROL,0.3512,0.8012,0.0*5D\r\n"
              b"#CH,1,01,S2025031401,0.3498,0.5770,49.5*7F\r\n#END,1,2*4C\r\n")
    (run,) = [e for e in LineDecoder(profile).feed(stream) if isinstance(e, RunCompleted)]
    assert [(r.sample_id, r.fields["a0"], r.fields["a3"], r.fields["inhibition_percent"]) for r in run.items] \
        == [("CONTROL", 0.3512, 0.8012, 0.0), ("S2025031401", 0.3498, 0.5770, 49.5)]


def test_colloidal_gold_worked_example():
    # hardware-sim/PROTOCOLS.md (c): byte sum from '@' through the ';' before CS = 0x0F2B -> "2B"
    gold = load_profile("colloidal_gold_8lane")
    line = b"@GR;0001;20250314;093005;1;S2025031401;CLEN;1520;3210;0.474;POS;0.800;2B\r\n"
    rec = parse_line(gold, line)
    assert (rec.record_type, rec.sample_id, rec.channel) == ("GR", "S2025031401", 1)
    assert (rec.fields["t_intensity"], rec.fields["c_intensity"], rec.fields["t_over_c"], rec.fields["result"]) \
        == (1520, 3210, 0.474, "POS")
    assert (gold.serial.baudrate, gold.serial.parity, gold.line.ack, gold.line.nak) == (19200, "O", b"ACK\r\n",
                                                                                        b"NAK\r\n")
    with pytest.raises(ChecksumError):
        parse_line(gold, line.replace(b"1520", b"1530"))
