"""Device (c) against PROTOCOLS.md (c): records, sum checksum, ACK/NAK resend."""

from __future__ import annotations

from datetime import datetime

import pytest
from hardware_sim.faults import Faults
from hardware_sim.gold import GoldReaderSim, GoldStrip, record_line

WHEN = datetime(2025, 3, 14, 9, 30, 5)
# PROTOCOLS.md (c) worked example; byte sum of the text through the last ';' is 0x0F2B
EXAMPLE = b"@GR;0001;20250314;093005;1;S2025031401;CLEN;1520;3210;0.474;POS;0.800;2B\r\n"


def test_worked_example():
    assert record_line(1, WHEN, GoldStrip(1, "S2025031401", "CLEN", 1520, 3210)) == EXAMPLE


@pytest.mark.parametrize(("t", "c", "result"), [(1520, 3210, "POS"), (3000, 3210, "NEG"), (100, 299, "INV")])
def test_competitive_decision(t, c, result):
    assert GoldStrip(1, "S", "CAP", t, c).result == result


def _readline(port):
    line = b""
    for _ in range(100):
        line += port.readline()
        if line.endswith(b"\r\n"):
            return line
    return line


def test_nak_resends_same_record_then_ack_moves_on(open_serial):
    strips = [GoldStrip(1, "S1", "CLEN", 1520, 3210), GoldStrip(2, "S2", "CAP", 3000, 3000)]
    sim = GoldReaderSim(strips, seed=1, started_at=WHEN, ack_timeout_s=1.0)
    try:
        port = open_serial(sim.start_pty(), baudrate=19200, parity="O")
        first = _readline(port)
        port.write(b"NAK\r\n")
        again = _readline(port)
        port.write(b"ACK\r\n")
        second = _readline(port)
        port.write(b"ACK\r\n")
        assert sim.wait(3)
    finally:
        sim.stop()
    assert first == again == sim.records[0]
    assert second == sim.records[1] and second.startswith(b"@GR;0002;")
    assert sim.acked == [0, 1]
    body = second[: second.rindex(b";") + 1]
    assert second[-4:-2].decode() == f"{sum(body) % 256:02X}"


def test_silence_resends_at_most_three_times(open_serial):
    sim = GoldReaderSim([GoldStrip(1, "S1", "CLEN", 1520, 3210)], ack_timeout_s=0.1,
                        faults=Faults(malformed_lines=(0,), seed=9))
    try:
        port = open_serial(sim.start_pty(), baudrate=19200, parity="O")
        assert sim.wait(3)
    finally:
        sim.stop()
    assert [e.kind for e in sim.events if e.kind in ("record", "timeout")] == ["record", "timeout"] * 4
    assert any(e.kind == "gave_up" for e in sim.events)
    assert sim.log[0] != sim.records[0] and sim.log[1:] == [sim.records[0]] * 3
    assert port is not None
