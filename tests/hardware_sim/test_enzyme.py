"""Device (a) against PROTOCOLS.md (a): lines, XOR checksums, inhibition arithmetic, faults."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest
from hardware_sim.enzyme import EnzymeTesterSim, SimSample, frame_line
from hardware_sim.faults import Faults

from .conftest import read_until_quiet, xor_hex

WHEN = datetime(2025, 3, 14, 9, 30, 5)
SAMPLES = [SimSample(1, "S2025031401", 49.5), SimSample(3, "S2025031403", 12.0), SimSample(16, "X-16", 80.0)]


def test_checksum_of_end_line_computed_by_hand():
    # 'E'45 ^ 'N'4E = 0B; ^ 'D'44 = 4F; ^ ','2C = 63; ^ '1'31 = 52; ^ ','2C = 7E; ^ '2'32 = 4C
    assert frame_line("END,1,2") == b"#END,1,2*4C\r\n"


def test_worked_example_lines_from_protocols_md():
    assert frame_line("CH,1,00,CONTROL,0.3512,0.8012,0.0") == b"#CH,1,00,CONTROL,0.3512,0.8012,0.0*5D\r\n"
    assert frame_line("RUN,1,2025-03-14 09:30:05,1") == b"#RUN,1,2025-03-14 09:30:05,1*49\r\n"


def _parse(line: bytes) -> list[str]:
    assert line.startswith(b"#") and line.endswith(b"\r\n")
    body, _, hh = line[1:-2].partition(b"*")
    assert hh.decode() == xor_hex(body), line
    return body.decode().split(",")


def test_run_over_pty_matches_protocol(open_serial):
    sim = EnzymeTesterSim(SAMPLES, run_no=42, seed=7, started_at=WHEN)
    try:
        port = open_serial(sim.start_pty(), baudrate=9600)
        assert sim.wait(5)
        data = read_until_quiet(port)
    finally:
        sim.stop()
    lines = data.split(b"\r\n")[:-1]
    fields = [_parse(line + b"\r\n") for line in lines]
    assert fields[0] == ["RUN", "42", "2025-03-14 09:30:05", "3"]
    assert fields[-1] == ["END", "42", "4"]
    control = fields[1]
    assert control[:4] == ["CH", "42", "00", "CONTROL"] and control[6] == "0.0"
    d_control = float(control[5]) - float(control[4])
    assert d_control == pytest.approx(0.45, abs=1e-4)
    for sample, f in zip(SAMPLES, fields[2:-1], strict=True):
        assert f[2] == f"{sample.channel:02d}" and f[3] == sample.sample_id
        assert len(f[4].split(".")[1]) == 4 and len(f[6].split(".")[1]) == 1
        d_sample = float(f[5]) - float(f[4])
        assert float(f[6]) == pytest.approx((d_control - d_sample) / d_control * 100, abs=0.051)
        assert float(f[6]) == pytest.approx(sample.inhibition_percent, abs=0.1)
    assert b"".join(sim.log) == data


def test_same_seed_same_damage_and_logged(open_serial):
    faults = Faults(bit_error_rate=0.01, drop_byte_rate=0.01, seed=3)
    logs = []
    for _ in range(2):
        sim = EnzymeTesterSim(SAMPLES, seed=1, faults=faults, started_at=WHEN)
        port = open_serial(sim.start_pty())
        assert sim.wait(5)
        read_until_quiet(port, quiet_s=0.1)
        sim.stop()
        logs.append((sim.log, [e for e in sim.events if e.kind in ("bit_error", "dropped")]))
    assert logs[0] == logs[1]
    assert logs[0][1], "a 1 % byte fault rate over ~200 bytes must hit something"
    assert b"".join(logs[0][0]) != b"".join(EnzymeTesterSim(SAMPLES, seed=1, started_at=WHEN).lines)


def test_malformed_lines_are_bad_checksum_or_non_numeric(open_serial):
    sim = EnzymeTesterSim(SAMPLES, seed=2, faults=Faults(malformed_lines=(1, 2, 3, 4)), started_at=WHEN)
    port = open_serial(sim.start_pty())
    assert sim.wait(5)
    data = read_until_quiet(port)
    sim.stop()
    lines = [line + b"\r\n" for line in data.split(b"\r\n")[:-1]]
    assert lines[0] == sim.lines[0] and lines[5] == sim.lines[5]
    kinds = {e.index: e.detail for e in sim.events if e.kind == "malformed"}
    assert sorted(kinds) == [1, 2, 3, 4]
    for i in range(1, 5):
        body, _, hh = lines[i][1:-2].partition(b"*")
        if kinds[i] == "bad_checksum":
            assert hh.decode() != xor_hex(body)
        else:
            assert hh.decode() == xor_hex(body)
            with pytest.raises(ValueError):
                float(body.split(b",")[-1])


def test_reboot_resends_the_run_once_from_run_line(open_serial):
    sim = EnzymeTesterSim(SAMPLES, seed=2, faults=Faults(reboot_after_messages=2, reconnect_delay_s=0.01),
                          started_at=WHEN)
    port = open_serial(sim.start_pty())
    assert sim.wait(5)
    data = read_until_quiet(port)
    sim.stop()
    clean = b"".join(sim.lines)
    assert data.endswith(clean)
    head = data[: -len(clean)]
    assert head.startswith(sim.lines[0] + sim.lines[1]) and b"READY" in head
    assert data.count(b"#END") == 1


def test_tcp_disconnect_then_resend(open_serial):
    sim = EnzymeTesterSim(SAMPLES, seed=2, faults=Faults(disconnect_after_bytes=50, reconnect_delay_s=0.01),
                          started_at=WHEN)
    port_no = sim.start_tcp()
    # a raw socket: pyserial's socket:// discards a read's data when EOF follows in the same call
    with socket.create_connection(("127.0.0.1", port_no), timeout=2) as first:
        partial = b""
        while chunk := first.recv(4096):
            partial += chunk
    second = open_serial(f"socket://127.0.0.1:{port_no}")
    assert sim.wait(5)
    data = read_until_quiet(second)
    sim.stop()
    assert partial == b"".join(sim.lines)[:50]
    assert data == b"".join(sim.lines)


def test_sample_validation():
    with pytest.raises(ValueError, match="channel"):
        SimSample(17, "A", 1.0)
    with pytest.raises(ValueError, match="sample_id"):
        SimSample(1, "A,B", 1.0)
    with pytest.raises(ValueError, match="duplicate"):
        EnzymeTesterSim([SimSample(1, "A", 1.0), SimSample(1, "B", 2.0)])
