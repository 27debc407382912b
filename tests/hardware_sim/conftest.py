"""Helpers for the simulator tests: an independent host side written from PROTOCOLS.md."""

from __future__ import annotations

import time

import pytest
import serial


def xor_hex(body: bytes) -> str:
    value = 0
    for b in body:
        value ^= b
    return f"{value:02X}"


def read_until_quiet(port: serial.SerialBase, quiet_s: float = 0.3, limit_s: float = 5.0) -> bytes:
    """Read until nothing arrives for ``quiet_s`` (or ``limit_s`` passed)."""
    data = bytearray()
    end = time.monotonic() + limit_s
    last = time.monotonic()
    while time.monotonic() < end:
        try:
            chunk = port.read(4096)
        except serial.SerialException:  # the device dropped the link (TCP)
            break
        if chunk:
            data += chunk
            last = time.monotonic()
        elif time.monotonic() - last > quiet_s:
            break
    return bytes(data)


@pytest.fixture
def open_serial():
    opened: list[serial.SerialBase] = []

    def _open(url: str, **kw) -> serial.SerialBase:
        kw.setdefault("timeout", 0.05)
        port = serial.serial_for_url(url, **kw)
        opened.append(port)
        return port

    yield _open
    for port in opened:
        port.close()
