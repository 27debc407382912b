"""The byte-link contract every stream transport offers to the code that drives an instrument.

A runner is given a link (never builds one from a string inside it), so a test swaps in a
:class:`~drivers.transports.scripted.ScriptedLink` and a site swaps serial for TCP without touching the
dialect code. A link reconnects with backoff in :meth:`ByteLink.connect` and raises
:class:`drivers.transports.tcp.ConnectionLost` from :meth:`ByteLink.read`/:meth:`ByteLink.write` when it broke.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class ByteLink(Protocol):
    """A bidirectional byte stream to one instrument (serial port, TCP client or server)."""

    address: str

    def connect(self, stop: threading.Event | None = None) -> bool:
        """Open (retrying with backoff); False if ``stop`` was set before it opened."""
        ...

    def read(self, timeout_s: float) -> bytes:
        """What arrived within ``timeout_s`` (``b""`` when nothing did)."""
        ...

    def write(self, data: bytes) -> None:
        """Send ``data`` whole."""
        ...

    def close(self) -> None:
        """Release the link (a later :meth:`connect` opens it again)."""
        ...
