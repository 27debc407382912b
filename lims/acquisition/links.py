"""Byte links and Modbus links from a configured :class:`~lims.acquisition.config.TransportSpec`.

Every byte link follows :class:`drivers.transports.link.ByteLink`: ``connect(stop) -> bool`` (retrying with
capped exponential backoff and full jitter), ``read(timeout_s) -> bytes`` (``b""`` when nothing arrived),
``write(data)``, ``close()``, and :class:`drivers.transports.tcp.ConnectionLost` when the link broke.
"""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

import serial

from drivers.errors import TransportError
from drivers.profiles import Profile
from drivers.transports.backoff import Backoff, Retrier
from drivers.transports.link import ByteLink
from drivers.transports.modbus import ModbusLink
from drivers.transports.serial import SERIAL_ERRORS, open_serial_for_profile
from drivers.transports.tcp import ConnectionLost, TcpClient, TcpServer

if TYPE_CHECKING:
    from lims.acquisition.config import InstrumentConfig

#: Reconnect policy of every link: first retry within 0.2 s, never more than 10 s apart.
LINK_BACKOFF = Backoff(base_s=0.2, cap_s=10.0)


class SerialLink:
    """A pyserial port (device path, ``rfc2217://``, ``loop://``) with the byte-link interface.

    The port's read timeout is fixed when it opens (reconfiguring it per read costs a ``tcsetattr``);
    :meth:`read` waits at most that long for a first byte, then takes whatever else is already buffered.
    """

    def __init__(self, url: str, profile: Profile, overrides: dict[str, Any], *, read_timeout_s: float = 0.02,
                 backoff: Backoff = LINK_BACKOFF) -> None:
        self.address = url
        self.profile = profile
        self.overrides = overrides
        self.read_timeout_s = read_timeout_s
        self.retrier = Retrier(backoff, random.Random())
        self.port: serial.SerialBase | None = None

    def open(self) -> None:
        self.close()
        self.port = open_serial_for_profile(self.address, self.profile,
                                            **{**self.overrides, "timeout": self.read_timeout_s})

    def connect(self, stop: threading.Event | None = None) -> bool:
        return self.retrier.until_open(self.open, stop)

    def read(self, timeout_s: float) -> bytes:
        if self.port is None:
            raise ConnectionLost(f"{self.address}: not open")
        try:
            data = self.port.read(1)
            if data:
                waiting = self.port.in_waiting
                if waiting:
                    data += self.port.read(waiting)
            return bytes(data)
        except SERIAL_ERRORS as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: {type(exc).__name__}: {exc}") from exc

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.port is None:
            raise ConnectionLost(f"{self.address}: not open")
        try:
            self.port.write(data)
        except SERIAL_ERRORS as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except SERIAL_ERRORS:
                pass
            self.port = None


class ClientLink:
    """:class:`TcpClient` with the byte-link interface (``socket://host:port``)."""

    def __init__(self, host: str, port: int, *, backoff: Backoff = LINK_BACKOFF) -> None:
        self.client = TcpClient(host, port, backoff=backoff)
        self.address = self.client.address

    def connect(self, stop: threading.Event | None = None) -> bool:
        return self.client.connect(stop)

    def read(self, timeout_s: float) -> bytes:
        return self.client.read(timeout_s)

    def write(self, data: bytes) -> None:
        self.client.write(data)

    def close(self) -> None:
        self.client.close()


class ListenLink:
    """:class:`TcpServer` with the byte-link interface (``tcp-listen://host:port``): ``connect`` waits for
    the instrument to connect; the listening socket stays open across reconnects."""

    def __init__(self, host: str, port: int) -> None:
        self.server = TcpServer(host, port)
        self.address = self.server.address

    def connect(self, stop: threading.Event | None = None) -> bool:
        while stop is None or not stop.is_set():
            if self.server.accept(0.2):
                return True
        return False

    def read(self, timeout_s: float) -> bytes:
        return self.server.read(timeout_s)

    def write(self, data: bytes) -> None:
        self.server.write(data)

    def close(self) -> None:
        self.server.disconnect()

    def shutdown(self) -> None:
        self.server.close()


def open_byte_link(cfg: InstrumentConfig) -> ByteLink:
    """The byte link of a serial/TCP instrument (not connected yet)."""
    t = cfg.transport
    if t.kind == "serial":
        assert t.path is not None
        return SerialLink(t.path, cfg.profile, cfg.serial_overrides)
    if t.kind == "tcp":
        assert t.host is not None and t.port is not None
        return ClientLink(t.host, t.port)
    if t.kind == "tcp-listen":
        assert t.host is not None and t.port is not None
        return ListenLink(t.host, t.port)
    raise TransportError(f"{t.url}: not a byte-stream transport")


def open_modbus_link(cfg: InstrumentConfig) -> ModbusLink:
    """The Modbus link of a Modbus instrument (not connected yet); URL parameters override the profile."""
    t = cfg.transport
    d = cfg.profile.modbus
    assert d is not None
    params = t.params
    device_id = int(params.get("device_id", d.device_id))
    timeout = float(params.get("timeout_s", cfg.timeout_s or d.timeout_s))
    if t.kind == "modbus-tcp":
        assert t.host is not None
        return ModbusLink.tcp(t.host, t.port or d.port, device_id=device_id, timeout_s=timeout,
                              backoff=LINK_BACKOFF)
    if t.kind == "modbus-rtu":
        assert t.path is not None
        ser = cfg.profile.serial
        return ModbusLink.rtu(t.path, baudrate=int(float(params.get("baud", cfg.serial_overrides.get(
            "baudrate", ser.baudrate)))), bytesize=ser.bytesize, parity=params.get("parity", ser.parity),
            stopbits=int(ser.stopbits), device_id=device_id, timeout_s=timeout, backoff=LINK_BACKOFF)
    raise TransportError(f"{t.url}: not a Modbus transport")
