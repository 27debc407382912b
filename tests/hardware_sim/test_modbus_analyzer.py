"""Device (d) against PROTOCOLS.md (d): register map, CDAB float32, status bits, commands."""

from __future__ import annotations

import struct
import time

import pytest
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult, float_to_cdab
from pymodbus.client import ModbusSerialClient, ModbusTcpClient


def cdab_to_float(regs: list[int]) -> float:
    """Independent decoder: low word first, each word big-endian."""
    return struct.unpack(">f", struct.pack(">HH", regs[1], regs[0]))[0]


def test_cdab_examples_from_protocols_md():
    assert float_to_cdab(1.0) == [0x0000, 0x3F80]
    assert float_to_cdab(35.8) == [0x3333, 0x420F]


@pytest.fixture
def tcp_sim():
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12), PlannedResult(72.5, 0.8)], measure_time_s=0.15)
    port = sim.start_tcp()
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    assert client.connect()
    yield sim, client
    client.close()
    sim.stop()


def _ir(client, count=20):
    rr = client.read_input_registers(0, count=count, device_id=1)
    assert not rr.isError()
    return rr.registers


def test_measurement_cycle(tcp_sim):
    sim, client = tcp_sim
    assert _ir(client)[0] == 0b0001  # READY
    sample = b"S2025031401".ljust(16, b"\0")
    client.write_registers(2, list(struct.unpack(">8H", sample)), device_id=1)
    client.write_register(0, 1, device_id=1)
    status = _ir(client, 4)
    assert status[0] & 0b0010 and not status[0] & 0b1001  # BUSY, not READY, no result
    assert client.read_holding_registers(0, count=1, device_id=1).registers == [0]  # COMMAND reads back 0
    time.sleep(0.25)
    regs = _ir(client)
    assert regs[0] == 0b1001 and regs[2] == 1  # READY + RESULT_AVAILABLE, counter 1
    assert cdab_to_float(regs[6:8]) == pytest.approx(35.8, rel=1e-6)
    assert cdab_to_float(regs[8:10]) == pytest.approx(0.12, rel=1e-6)
    assert 36.5 < cdab_to_float(regs[10:12]) < 37.5
    assert struct.pack(">8H", *regs[12:20]) == sample
    client.write_register(0, 3, device_id=1)  # clear result
    assert _ir(client, 1)[0] == 0b0001
    assert sim.model.commands == [1, 3]


def test_start_while_busy_sets_error(tcp_sim):
    _, client = tcp_sim
    client.write_register(0, 1, device_id=1)
    client.write_register(0, 1, device_id=1)
    assert _ir(client, 2)[1] == 3


def test_lamp_fault_refuses_start():
    sim = ModbusAnalyzerSim(lamp_fault=True, measure_time_s=0.01)
    port = sim.start_tcp()
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2)
    try:
        assert client.connect()
        assert _ir(client, 2) == [0b0100, 0]
        client.write_register(0, 1, device_id=1)
        time.sleep(0.05)
        assert _ir(client, 3) == [0b0100, 1, 0]
    finally:
        client.close()
        sim.stop()


def test_rtu_over_pty():
    sim = ModbusAnalyzerSim(measure_time_s=0.05)
    path = sim.start_rtu()
    client = ModbusSerialClient(path, baudrate=9600, timeout=1)
    try:
        assert client.connect()
        assert _ir(client, 1) == [0b0001]
        client.write_register(0, 1, device_id=1)
        time.sleep(0.1)
        assert _ir(client, 1) == [0b1001]
    finally:
        client.close()
        sim.stop()
