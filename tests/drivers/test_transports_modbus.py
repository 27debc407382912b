"""Modbus TCP/RTU links against the device-(d) simulator (pymodbus server, PROTOCOLS.md (d))."""

from __future__ import annotations

import struct
import time

import pytest
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult

from drivers.codecs.modbus_map import block_span, decode_block
from drivers.errors import TransportError
from drivers.profiles import load_profile
from drivers.transports.backoff import Backoff
from drivers.transports.modbus import ModbusDeviceError, ModbusLink


def test_tcp_link_reads_the_register_map_and_reports_exception_responses():
    sim = ModbusAnalyzerSim([PlannedResult(35.8, 0.12)], measure_time_s=0.01)
    port = sim.start_tcp()
    link = ModbusLink.tcp("127.0.0.1", port, device_id=1, timeout_s=1.0)
    try:
        assert link.connect()
        link.write_registers(2, list(struct.unpack(">8H", b"S-42".ljust(16, b"\0"))))
        link.write_registers(0, [1])
        time.sleep(0.05)
        profile = load_profile("modbus_photometric")
        start, count = block_span(profile, "input")
        values = decode_block(profile, "input", start, link.read_input_registers(start, count))
        assert values["result_sample_id"].value == "S-42"
        assert values["status"].value["result_available"] is True
        assert values["inhibition_percent"].value == pytest.approx(35.8, rel=1e-6)
        assert link.read_holding_registers(0, 1) == [0]  # COMMAND reads back 0
        with pytest.raises(ModbusDeviceError) as err:
            link.read_input_registers(500, 2)  # outside the device's map
        assert err.value.code == 2
    finally:
        link.close()
        sim.stop()


def test_rtu_link_on_a_pty_and_a_dead_link_is_a_typed_error():
    sim = ModbusAnalyzerSim(measure_time_s=0.01)
    path = sim.start_rtu()
    link = ModbusLink.rtu(path, baudrate=9600, device_id=1, timeout_s=0.5)
    try:
        assert link.connect()
        assert link.read_input_registers(0, 3)[0] & 0x1  # READY
        sim.stop()  # the device side goes away
        with pytest.raises(TransportError):  # LinkTimeout or ConnectionLost, never a bare exception
            link.read_input_registers(0, 3)
    finally:
        link.close()
        sim.stop()


def test_connect_to_nothing_fails_with_the_address():
    link = ModbusLink.tcp("127.0.0.1", 1, timeout_s=0.2, backoff=Backoff(base_s=0.01, cap_s=0.02))
    with pytest.raises(TransportError, match="127.0.0.1:1"):
        link.open()
