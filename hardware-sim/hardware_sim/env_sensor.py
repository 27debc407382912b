"""Device (h): temperature/humidity transmitter (PROTOCOLS.md (h)), served over Modbus TCP by pymodbus 3.16.

Input registers: 0 humidity in tenths of %RH (uint16), 1 temperature in tenths of °C (int16, two's
complement), 2 status (bit 0 probe fault). The values are set from Python (:meth:`EnvSensorSim.set`) so a
test can drive a refrigerator out of range; the ``action`` hook of the ``SimDevice`` refreshes the
registers on every request.
"""

from __future__ import annotations

import asyncio
import threading

from .modbus_analyzer import _free_port, _wait_port

IR_HUMIDITY, IR_TEMPERATURE, IR_STATUS = 0, 1, 2
INPUT_COUNT = 4
DEVICE_ID = 1


def tenths(value: float, *, signed: bool) -> int:
    """A value in tenths as a 16-bit register (two's complement when ``signed``)."""
    n = int(round(value * 10))
    if signed:
        if not -0x8000 <= n <= 0x7FFF:
            raise ValueError(f"{value} outside the int16 range in tenths")
        return n & 0xFFFF
    if not 0 <= n <= 0xFFFF:
        raise ValueError(f"{value} outside the uint16 range in tenths")
    return n


class EnvSensorSim:
    """One transmitter (device id 1) on a Modbus TCP server running on a background asyncio loop."""

    def __init__(self, temperature_c: float = 4.0, humidity_pct: float = 45.0, *, device_id: int = DEVICE_ID) -> None:
        self.device_id = device_id
        self.temperature_c = temperature_c
        self.humidity_pct = humidity_pct
        self.probe_fault = False
        self.requests = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: object | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def set(self, *, temperature_c: float | None = None, humidity_pct: float | None = None,
            probe_fault: bool | None = None) -> None:
        with self._lock:
            if temperature_c is not None:
                self.temperature_c = temperature_c
            if humidity_pct is not None:
                self.humidity_pct = humidity_pct
            if probe_fault is not None:
                self.probe_fault = probe_fault

    def input_registers(self) -> list[int]:
        with self._lock:
            return [tenths(self.humidity_pct, signed=False), tenths(self.temperature_c, signed=True),
                    1 if self.probe_fault else 0, 0]

    async def _action(self, function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], set_values: list[int] | list[bool] | None) -> None:
        self.requests += 1
        if function_code == 4:
            registers[:] = self.input_registers()[:len(registers)]

    def sim_device(self) -> object:
        from pymodbus.simulator import DataType, SimData, SimDevice

        bits = [SimData(0, count=1, values=[False] * 16, datatype=DataType.BITS)]
        holding = [SimData(0, values=[0] * INPUT_COUNT, datatype=DataType.REGISTERS)]
        inputs = [SimData(0, values=self.input_registers(), datatype=DataType.REGISTERS)]
        return SimDevice(id=self.device_id, simdata=(list(bits), list(bits), holding, inputs),
                         action=self._action)

    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> int:
        from pymodbus.server import ModbusTcpServer

        self.port = port or _free_port(host)
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                self._server = ModbusTcpServer(self.sim_device(), address=(host, self.port))  # type: ignore[arg-type]
                ready.set()
                await self._server.serve_forever()  # type: ignore[attr-defined]
            try:
                loop.run_until_complete(serve())
            except Exception:
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="env-sensor-sim", daemon=True)
        self._thread.start()
        ready.wait(5)
        _wait_port(host, self.port)
        return self.port

    def stop(self) -> None:
        if self._loop is not None and self._server is not None and not self._loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)  # type: ignore[attr-defined]
            try:
                fut.result(5)
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> EnvSensorSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
