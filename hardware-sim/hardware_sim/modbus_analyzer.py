"""Device (d): Modbus photometric residue analyzer (PROTOCOLS.md (d)), served by pymodbus 3.16.

The device model (:class:`AnalyzerModel`) is plain Python; the pymodbus server side is a
``pymodbus.simulator.SimDevice`` whose ``action`` hook refreshes the registers from the model on
every request and turns writes of the COMMAND register into model commands.
float32 values are in CDAB word order (low word first), bytes within a register big-endian.
Modbus TCP serves on a port; Modbus RTU runs on a pty pair bridged to a second pty (the host's),
so byte faults can be injected on the wire from device to host.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import socket
import struct
import threading
import time
import tty
from dataclasses import dataclass

from .faults import NO_FAULTS, FaultInjector, Faults, SimEvent

# -- register map (0-based protocol addresses) ----------------------------------------------------------
HR_COMMAND = 0
HR_TEST_ITEM = 1
HR_SAMPLE_ID = 2  # 8 registers, 16 ASCII chars
HR_WORKLIST_COUNT = 10  # sample IDs loaded by the host (issue 13: worklist download)
HR_WORKLIST_NEXT = 11  # positions measured so far
HR_WORKLIST_IDS = 12  # WORKLIST_POSITIONS IDs of 8 registers each
WORKLIST_POSITIONS = 16
HOLDING_COUNT = HR_WORKLIST_IDS + 8 * WORKLIST_POSITIONS
IR_STATUS = 0
IR_ERROR = 1
IR_RESULT_COUNTER = 2
IR_ABSORBANCE = 4
IR_INHIBITION = 6
IR_CONCENTRATION = 8
IR_TEMPERATURE = 10
IR_RESULT_SAMPLE_ID = 12  # 8 registers
INPUT_COUNT = 20
SAMPLE_ID_CHARS = 16

STATUS_READY, STATUS_BUSY, STATUS_LAMP_FAULT, STATUS_RESULT_AVAILABLE = 0x1, 0x2, 0x4, 0x8
CMD_START, CMD_ABORT, CMD_CLEAR = 1, 2, 3
ERR_NONE, ERR_LAMP, ERR_ABORTED, ERR_BUSY = 0, 1, 2, 3
DEVICE_ID = 1


def float_to_cdab(value: float) -> list[int]:
    """IEEE 754 binary32, big-endian bytes, low-order word first (CDAB)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [lo, hi]


def string_to_registers(text: str, count: int) -> list[int]:
    """ASCII, two chars per register (first in the high byte), NUL padded to ``count`` registers."""
    raw = text.encode("ascii")[: count * 2].ljust(count * 2, b"\0")
    return list(struct.unpack(f">{count}H", raw))


def registers_to_string(registers: list[int]) -> str:
    raw = struct.pack(f">{len(registers)}H", *registers)
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


@dataclass(frozen=True)
class PlannedResult:
    """What the next measurement will report."""

    inhibition_percent: float
    concentration_mg_kg: float


@dataclass(frozen=True)
class MeasurementRecord:
    """One completed measurement, as the registers show it."""

    counter: int
    sample_id: str
    absorbance: float
    inhibition_percent: float
    concentration_mg_kg: float
    temperature_c: float


class AnalyzerModel:
    """The analyzer's state machine; thread-safe; time passes lazily on each access."""

    def __init__(self, planned: list[PlannedResult], *, measure_time_s: float = 1.0,
                 lamp_fault: bool = False, seed: int = 0) -> None:
        if not planned:
            raise ValueError("at least one planned result is needed")
        self.planned = list(planned)
        self.measure_time_s = measure_time_s
        self.lamp_fault = lamp_fault
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.holding = [0] * HOLDING_COUNT
        self.holding[HR_TEST_ITEM] = 1
        self.busy_since: float | None = None
        self.result_available = False
        self.error = ERR_NONE
        self.counter = 0
        self.results: list[MeasurementRecord] = []
        self._measuring_id = ""
        self.commands: list[int] = []

    def status(self) -> int:
        bits = 0
        if self.lamp_fault:
            bits |= STATUS_LAMP_FAULT
        if self.busy_since is not None:
            bits |= STATUS_BUSY
        elif not self.lamp_fault:
            bits |= STATUS_READY
        if self.result_available:
            bits |= STATUS_RESULT_AVAILABLE
        return bits

    def advance(self, now: float) -> None:
        """Complete a measurement whose time has come (result registers before the flag)."""
        if self.busy_since is None or now - self.busy_since < self.measure_time_s:
            return
        plan = self.planned[self.counter % len(self.planned)]
        absorbance = round(0.35 + 0.45 * (1.0 - plan.inhibition_percent / 100.0), 4)
        temperature = round(37.0 + self.rng.uniform(-0.2, 0.2), 2)
        self.counter = (self.counter + 1) % 65536
        self.results.append(MeasurementRecord(self.counter, self._measuring_id, absorbance,
                                              plan.inhibition_percent, plan.concentration_mg_kg, temperature))
        self.busy_since = None
        self.result_available = True

    def command(self, code: int, sample_registers: list[int], now: float) -> None:
        self.commands.append(code)
        if code == CMD_START:
            if self.lamp_fault:
                self.error = ERR_LAMP
            elif self.busy_since is not None:
                self.error = ERR_BUSY
            else:
                self.error = ERR_NONE
                self._measuring_id = registers_to_string(sample_registers) or self._next_worklist_id()
                self.result_available = False
                self.busy_since = now
        elif code == CMD_ABORT:
            if self.busy_since is not None:
                self.busy_since = None
                self.error = ERR_ABORTED
        elif code == CMD_CLEAR:
            self.result_available = False

    def _next_worklist_id(self) -> str:
        """A start without SAMPLE_ID measures the next position of the worklist the host loaded ('' if none)."""
        done, count = self.holding[HR_WORKLIST_NEXT], min(self.holding[HR_WORKLIST_COUNT], WORKLIST_POSITIONS)
        if done >= count:
            return ""
        self.holding[HR_WORKLIST_NEXT] = done + 1
        first = HR_WORKLIST_IDS + 8 * done
        return registers_to_string(self.holding[first:first + 8])

    def worklist(self) -> list[str]:
        """The sample IDs the host loaded, in position order."""
        count = min(self.holding[HR_WORKLIST_COUNT], WORKLIST_POSITIONS)
        return [registers_to_string(self.holding[HR_WORKLIST_IDS + 8 * i:HR_WORKLIST_IDS + 8 * i + 8])
                for i in range(count)]

    def input_registers(self) -> list[int]:
        regs = [0] * INPUT_COUNT
        regs[IR_STATUS] = self.status()
        regs[IR_ERROR] = self.error
        regs[IR_RESULT_COUNTER] = self.counter
        if self.results:
            last = self.results[-1]
            regs[IR_ABSORBANCE:IR_ABSORBANCE + 2] = float_to_cdab(last.absorbance)
            regs[IR_INHIBITION:IR_INHIBITION + 2] = float_to_cdab(last.inhibition_percent)
            regs[IR_CONCENTRATION:IR_CONCENTRATION + 2] = float_to_cdab(last.concentration_mg_kg)
            regs[IR_TEMPERATURE:IR_TEMPERATURE + 2] = float_to_cdab(last.temperature_c)
            regs[IR_RESULT_SAMPLE_ID:IR_RESULT_SAMPLE_ID + 8] = string_to_registers(last.sample_id, 8)
        return regs

    def write_holding(self, address: int, values: list[int], now: float) -> list[int]:
        """Apply a holding-register write; returns the values to store (COMMAND stored as 0)."""
        stored = list(values)
        for i, value in enumerate(values):
            reg = address + i
            if 0 <= reg < HOLDING_COUNT:
                self.holding[reg] = value
        if address <= HR_WORKLIST_COUNT < address + len(values):  # a new worklist starts at its first position
            self.holding[HR_WORKLIST_NEXT] = 0
        if address <= HR_COMMAND < address + len(values):
            code = values[HR_COMMAND - address]
            stored[HR_COMMAND - address] = 0
            self.holding[HR_COMMAND] = 0
            self.command(code, self.holding[HR_SAMPLE_ID:HR_SAMPLE_ID + 8], now)
        return stored


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ModbusAnalyzerSim:
    """Runs the analyzer as a pymodbus server (TCP or RTU) on a background asyncio loop.

    ``response_delay_s`` slows every reply (slow device). Faults apply to the RTU wire
    (device → host bytes) through the pty bridge.
    """

    def __init__(self, planned: list[PlannedResult] | None = None, *, measure_time_s: float = 1.0,
                 lamp_fault: bool = False, seed: int = 0, faults: Faults | None = None,
                 response_delay_s: float = 0.0, device_id: int = DEVICE_ID) -> None:
        self.model = AnalyzerModel(planned or [PlannedResult(35.8, 0.12)], measure_time_s=measure_time_s,
                                   lamp_fault=lamp_fault, seed=seed)
        self.faults = faults or NO_FAULTS
        self.injector = FaultInjector(self.faults, seed)
        self.response_delay_s = response_delay_s
        self.device_id = device_id
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: object | None = None
        self._thread: threading.Thread | None = None
        self._bridge: _PtyBridge | None = None
        self.address = ""

    @property
    def events(self) -> list[SimEvent]:
        return self.injector.events

    # -- the SimDevice ---------------------------------------------------------------------------------
    async def _action(self, function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], set_values: list[int] | list[bool] | None) -> None:
        if self.response_delay_s:
            await asyncio.sleep(self.response_delay_s)
        now = time.monotonic()
        with self.model.lock:
            self.requests += 1
            self.model.advance(now)
            if function_code == 4:
                fresh = self.model.input_registers()
                registers[: len(fresh)] = fresh
            elif function_code in (6, 16) and set_values is not None:
                # the write itself is stored (and echoed) as sent; reads show COMMAND as 0
                self.model.write_holding(address, [int(v) for v in set_values], now)
            elif function_code == 3:
                registers[:HOLDING_COUNT] = self.model.holding
        return None

    def sim_device(self) -> object:
        from pymodbus.simulator import DataType, SimData, SimDevice

        bits = [SimData(0, count=1, values=[False] * 16, datatype=DataType.BITS)]
        holding = [SimData(0, values=[0] * HOLDING_COUNT, datatype=DataType.REGISTERS)]
        inputs = [SimData(0, values=self.model.input_registers(), datatype=DataType.REGISTERS)]
        return SimDevice(id=self.device_id, simdata=(list(bits), list(bits), holding, inputs),
                         action=self._action)

    # -- life cycle ------------------------------------------------------------------------------------
    def start_tcp(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Serve Modbus TCP; ``port`` 0 picks a free port. Returns the port."""
        from pymodbus.server import ModbusTcpServer

        port = port or _free_port(host)
        self.address = f"{host}:{port}"

        def make() -> object:
            return ModbusTcpServer(self.sim_device(), address=(host, port),  # type: ignore[arg-type]
                                   ignore_missing_devices=True)

        self._run(make)
        _wait_port(host, port)
        return port

    def start_rtu(self, baudrate: int = 9600) -> str:
        """Serve Modbus RTU on a pty; returns the host's serial device path."""
        from pymodbus.framer import FramerType
        from pymodbus.server import ModbusSerialServer

        self._bridge = _PtyBridge(self.injector, self.faults)
        device_path = self._bridge.device_path
        self.address = self._bridge.host_path

        def make() -> object:
            return ModbusSerialServer(self.sim_device(), framer=FramerType.RTU,  # type: ignore[arg-type]
                                      port=device_path, baudrate=baudrate, ignore_missing_devices=True)

        self._run(make)
        if not self._bridge.wait_device_open(5.0):
            raise RuntimeError(f"Modbus RTU server did not open {device_path}")
        self._bridge.start()
        return self._bridge.host_path

    def _run(self, make: object) -> None:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def serve() -> None:
                self._server = make()  # type: ignore[operator]
                ready.set()
                await self._server.serve_forever()  # type: ignore[attr-defined]

            try:
                loop.run_until_complete(serve())
            except Exception as exc:  # server failure is reported, not swallowed
                self.injector.events.append(SimEvent("error", repr(exc)))
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(target=main, name="ModbusAnalyzerSim", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self) -> None:
        if self._loop is not None and self._server is not None and not self._loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)  # type: ignore[attr-defined]
            try:
                fut.result(timeout=5)
            except Exception:  # already stopping
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._bridge is not None:
            self._bridge.stop()

    def __enter__(self) -> ModbusAnalyzerSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_port(host: str, port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"Modbus TCP server did not listen on {host}:{port}")


class _PtyBridge:
    """Two pty pairs joined by a thread: the server opens ``device_path``, the host ``host_path``.

    Bytes from device to host pass through the fault injector.
    """

    def __init__(self, injector: FaultInjector, faults: Faults) -> None:
        self.injector = injector
        self.faults = faults
        self._fds: list[int] = []
        paths = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(master)
            tty.setraw(slave)
            paths.append(os.ttyname(slave))
            os.close(slave)
            self._fds.append(master)
        self.device_path, self.host_path = paths
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="PtyBridge", daemon=True)
        self.log: list[bytes] = []

    def start(self) -> None:
        self._thread.start()

    def wait_device_open(self, timeout: float) -> bool:
        """True once the server side has opened its slave (its master stops reporting POLLHUP)."""
        poller = select.poll()
        poller.register(self._fds[0], select.POLLHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(ev & select.POLLHUP for _, ev in poller.poll(0)):
                time.sleep(0.1)  # pyserial flushes the input queue right after opening
                return True
            time.sleep(0.01)
        return False

    def _pump(self) -> None:
        device_fd, host_fd = self._fds
        while not self._stop.is_set():
            ready, _, _ = select.select([device_fd, host_fd], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO: the other side has not opened its slave yet
                    time.sleep(0.01)
                    continue
                if fd == device_fd:
                    data = self.injector.damage(data)
                    self.log.append(data)
                    target = host_fd
                else:
                    target = device_fd
                try:
                    if self.faults.slow_byte_delay_s:
                        for i in range(len(data)):
                            os.write(target, data[i:i + 1])
                            time.sleep(self.faults.slow_byte_delay_s)
                    else:
                        os.write(target, data)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
