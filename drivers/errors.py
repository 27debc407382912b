"""Typed errors of the instrument drivers.

Every protocol error carries the byte ``offset`` (in the stream or capture when known, otherwise in the
frame/line being parsed) and, where it applies, the ``field`` name, so a rejected message can be shown to a
technician with the exact place that was wrong.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error raised by :mod:`drivers`."""


class ProtocolError(DriverError):
    """Bytes that do not follow the wire protocol. ``offset`` is the byte offset of the fault."""

    def __init__(self, message: str, *, offset: int | None = None, field: str | None = None) -> None:
        self.detail = message
        self.offset = offset
        self.field = field
        where = []
        if field is not None:
            where.append(f"field '{field}'")
        if offset is not None:
            where.append(f"byte offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class FramingError(ProtocolError):
    """Start/end characters, terminators or lengths are wrong (truncated or run-together frames)."""


class ChecksumError(ProtocolError):
    """The checksum/CRC carried by the frame does not match the one computed over its bytes."""


class FrameNumberError(ProtocolError):
    """ASTM E1381 frame number (FN) is not the expected one (CLSI LIS01-A2 §8.3.3)."""


class FieldError(ProtocolError):
    """A field is missing, has the wrong count, or does not convert to its declared type."""


class UnknownRecordError(ProtocolError):
    """The record type/tag is not declared in the device profile."""


class ProfileError(DriverError, ValueError):
    """A device profile file is invalid; the message names the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        where = ", ".join(x for x in (file, f"key '{key}'" if key else None) if x)
        super().__init__(f"{where}: {message}" if where else message)


class TransportError(DriverError):
    """The link to the instrument failed (cannot open, disconnected, timed out)."""


class LinkTimeout(TransportError):
    """No reply within the protocol's or the configuration's timeout."""
