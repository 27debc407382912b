"""Serial links through pyserial ``serial_for_url``: device paths (``/dev/ttyUSB0``, a pty slave such as
``/dev/pts/5``), ``socket://host:port``, ``rfc2217://host:port``, ``loop://``."""

from __future__ import annotations

from typing import Any

import serial

try:  # POSIX: pyserial configures a port with termios, whose errors are not OSErrors
    from termios import error as _TermiosError
except ImportError:  # pragma: no cover - Windows
    class _TermiosError(Exception):  # type: ignore[no-redef]
        """Stand-in where there is no termios (never raised)."""

from drivers.errors import TransportError
from drivers.profiles import Profile, SerialSettings

#: Everything pyserial raises when a port cannot be opened, configured, read or written: a serial link
#: turns these into :class:`~drivers.errors.TransportError` (reconnect with backoff), never a crash.
SERIAL_ERRORS: tuple[type[BaseException], ...] = (serial.SerialException, ValueError, OSError, _TermiosError)

_STOPBITS = {1: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2: serial.STOPBITS_TWO}


def open_serial(url: str, *, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: float = 1,
                xonxoff: bool = False, rtscts: bool = False, timeout: float | None = 0.1) -> serial.SerialBase:
    """Open ``url`` with the given line settings; ``TransportError`` names the URL on failure."""
    if stopbits not in _STOPBITS:
        raise TransportError(f"{url}: unsupported stop bits {stopbits!r}")
    try:
        return serial.serial_for_url(url, baudrate=baudrate, bytesize=bytesize, parity=parity,
                                     stopbits=_STOPBITS[stopbits], xonxoff=xonxoff, rtscts=rtscts,
                                     timeout=timeout)
    except SERIAL_ERRORS as exc:
        raise TransportError(f"{url}: cannot open serial link: {type(exc).__name__}: {exc}") from exc


def serial_kwargs(settings: SerialSettings) -> dict[str, Any]:
    """Keyword arguments for :func:`open_serial` from a profile's ``[serial]`` section."""
    return {"baudrate": settings.baudrate, "bytesize": settings.bytesize, "parity": settings.parity,
            "stopbits": settings.stopbits, "xonxoff": settings.xonxoff, "rtscts": settings.rtscts,
            "timeout": settings.timeout_s}


def open_serial_for_profile(url: str, profile: Profile, **overrides: Any) -> serial.SerialBase:
    """Open ``url`` with the profile's serial settings (``overrides`` win, e.g. from site configuration)."""
    return open_serial(url, **{**serial_kwargs(profile.serial), **overrides})
