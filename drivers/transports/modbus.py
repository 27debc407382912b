"""Modbus TCP and Modbus RTU client links (pymodbus 3.16 synchronous clients) returning plain register
lists for :mod:`drivers.codecs.modbus_map`.

Modbus Application Protocol v1.1b3: FC 03 read holding registers, FC 04 read input registers, FC 16 write
multiple registers; Modbus over serial line v1.02 for RTU (CRC-16, silent intervals: pymodbus' RTU
framer). Errors are typed: :class:`ModbusDeviceError` for an exception response from the device (it
answered, the request was wrong), :class:`drivers.errors.LinkTimeout` for no valid reply in time (a
corrupted RTU reply fails its CRC and counts as no reply), :class:`ConnectionLost` when the link broke.
Reconnects use capped exponential backoff with full jitter (:mod:`drivers.transports.backoff`).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from drivers.errors import LinkTimeout, TransportError
from drivers.transports.backoff import Backoff, Retrier
from drivers.transports.link import ByteLink
from drivers.transports.tcp import ConnectionLost

#: Modbus exception codes (Modbus Application Protocol v1.1b3 §7).
EXCEPTION_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   8: "memory parity error", 10: "gateway path unavailable",
                   11: "gateway target device failed to respond"}


class ModbusDeviceError(TransportError):
    """The device answered with a Modbus exception response; ``code`` is its exception code."""

    def __init__(self, message: str, *, code: int | None) -> None:
        self.code = code
        super().__init__(message)


class ModbusLink:
    """One Modbus device (``device_id``) behind a pymodbus client; use :meth:`tcp` or :meth:`rtu`."""

    def __init__(self, client: Any, address: str, *, device_id: int = 1, backoff: Backoff | None = None,
                 rng: random.Random | None = None) -> None:
        if not 0 <= device_id <= 247:
            raise ValueError(f"Modbus device id {device_id} outside 0..247")
        self.client = client
        self.address = address
        self.device_id = device_id
        self.retrier = Retrier(backoff or Backoff(), rng or random.Random())

    @classmethod
    def tcp(cls, host: str, port: int = 502, *, device_id: int = 1, timeout_s: float = 1.0, retries: int = 0,
            backoff: Backoff | None = None) -> ModbusLink:
        """Modbus TCP (MBAP header) to ``host:port``; ``retries`` are pymodbus' own re-sends per request."""
        client = ModbusTcpClient(host, port=port, timeout=timeout_s, retries=retries, reconnect_delay=0,
                                 reconnect_delay_max=0)
        return cls(client, f"modbus-tcp://{host}:{port}?device_id={device_id}", device_id=device_id,
                   backoff=backoff)

    @classmethod
    def rtu(cls, port: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: int = 1,
            device_id: int = 1, timeout_s: float = 1.0, retries: int = 0,
            backoff: Backoff | None = None) -> ModbusLink:
        """Modbus RTU on a serial device (``/dev/ttyUSB0``, a pty slave)."""
        client = ModbusSerialClient(port, framer=FramerType.RTU, baudrate=baudrate, bytesize=bytesize,
                                    parity=parity, stopbits=stopbits, timeout=timeout_s, retries=retries,
                                    reconnect_delay=0, reconnect_delay_max=0)
        return cls(client, f"modbus-rtu://{port}?baud={baudrate}&device_id={device_id}", device_id=device_id,
                   backoff=backoff)

    @classmethod
    def over(cls, link: ByteLink, *, device_id: int = 1, timeout_s: float = 1.0, framing: str = "tcp",
             backoff: Backoff | None = None) -> ModbusLink:
        """Modbus on any byte link (``framing`` ``"tcp"``: MBAP header; ``"rtu"``: CRC-16): pymodbus builds and
        checks the frames, the link carries the bytes — a :class:`~drivers.transports.scripted.ScriptedLink`
        in protocol tests, or a link the caller opened itself."""
        framer = {"tcp": FramerType.SOCKET, "rtu": FramerType.RTU}[framing]
        return cls(_ByteLinkClient(link, framer=framer, timeout_s=timeout_s), f"modbus+{link.address}",
                   device_id=device_id, backoff=backoff)

    @property
    def is_open(self) -> bool:
        return bool(self.client.connected)

    def open(self) -> None:
        """Connect once; ``TransportError`` names the address."""
        try:
            ok = self.client.connect()
        except (ModbusException, OSError) as exc:
            raise TransportError(f"{self.address}: cannot connect: {exc}") from exc
        if not ok:
            raise TransportError(f"{self.address}: cannot connect")

    def connect(self, stop: threading.Event | None = None) -> bool:
        """Connect with backoff (full jitter, capped); False if ``stop`` was set first."""
        return self.retrier.until_open(self.open, stop)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            response = fn(*args, device_id=self.device_id, **kwargs)
        except ConnectionException as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: {what}: connection lost: {exc}") from exc
        except ModbusIOException as exc:
            raise LinkTimeout(f"{self.address}: {what}: no valid reply: {exc}") from exc
        except ModbusException as exc:
            raise LinkTimeout(f"{self.address}: {what}: {exc}") from exc
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: {what}: {exc}") from exc
        if response is None:
            raise LinkTimeout(f"{self.address}: {what}: no reply")
        if response.isError():
            code = getattr(response, "exception_code", None)
            meaning = EXCEPTION_CODES.get(code or -1, "unknown exception")
            raise ModbusDeviceError(f"{self.address}: {what}: exception code {code} ({meaning})", code=code)
        return response

    def read_input_registers(self, address: int, count: int) -> list[int]:
        """FC 04: ``count`` input registers from ``address`` (0-based protocol address)."""
        rr = self._call(f"read input registers {address}+{count}", self.client.read_input_registers, address,
                        count=count)
        return self._check_count(list(rr.registers), count, "input", address)

    def read_holding_registers(self, address: int, count: int) -> list[int]:
        """FC 03: ``count`` holding registers from ``address``."""
        rr = self._call(f"read holding registers {address}+{count}", self.client.read_holding_registers,
                        address, count=count)
        return self._check_count(list(rr.registers), count, "holding", address)

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """FC 16: write ``values`` from ``address``."""
        self._call(f"write registers {address}+{len(values)}", self.client.write_registers, address,
                   list(values))

    def _check_count(self, regs: list[int], count: int, table: str, address: int) -> list[int]:
        if len(regs) != count:
            raise LinkTimeout(f"{self.address}: {table} registers {address}+{count}: reply has {len(regs)}")
        return regs

    def close(self) -> None:
        try:
            self.client.close()
        except (ModbusException, OSError):
            pass


class _ByteLinkClient(ModbusTcpClient):
    """pymodbus' synchronous client with its socket replaced by a :class:`ByteLink` (framing and checks stay
    pymodbus'); a read that brings nothing within the timeout is pymodbus' "no response"."""

    def __init__(self, link: ByteLink, *, framer: FramerType, timeout_s: float) -> None:
        super().__init__(link.address, framer=framer, timeout=timeout_s, retries=0, reconnect_delay=0,
                         reconnect_delay_max=0)
        self.link = link
        self._open = False

    @property
    def connected(self) -> bool:
        return self._open

    def connect(self) -> bool:
        if not self._open:
            self._open = self.link.connect(None)
        return self._open

    def close(self) -> None:
        if self._open:
            self.link.close()
        self._open = False

    def send(self, request: bytes, addr: tuple[str, int] | None = None) -> int:
        self.link.write(request)
        return len(request)

    def recv(self, size: int | None) -> bytes:
        return self.link.read(self.comm_params.timeout_connect or 0.0)
