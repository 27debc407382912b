"""A byte link that plays a scripted conversation, for protocol tests without hardware.

The script is a list of ``(expected, reply)`` pairs taken from the device's manual: ``expected`` is what the
code under test must write next (``None`` when the device speaks first), ``reply`` what the device answers
(``None`` or ``b""`` for silence). A write that differs from the expected bytes fails at once with both byte
strings; pairs left over when the conversation is checked (:meth:`ScriptedLink.assert_done`, also on leaving
the ``with`` block) fail too, so a test proves every exchange of the manual was used, in order. The model is
PyMeasure's ``expected_protocol`` test helper (read, not copied).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import TracebackType

from drivers.transports.tcp import ConnectionLost

Exchange = tuple[bytes | None, bytes | None]


class ScriptMismatch(AssertionError):
    """The code under test wrote something the script did not expect, or left exchanges unused."""


class ScriptedLink:
    """:class:`~drivers.transports.link.ByteLink` over a script of ``(expected write, reply)`` pairs.

    A pair's reply becomes readable once its expected bytes were written in full (at once or in pieces);
    a pair without expected bytes is the device speaking unprompted, readable at once. ``read`` returns at
    most ``chunk`` bytes of the pending reply (default: all of it). When the script is used up, ``read``
    returns ``b""`` or, with ``hang_up_at_end``, raises :class:`ConnectionLost` as a device that went
    away would (a runner then leaves its read loop)."""

    def __init__(self, script: Sequence[Exchange], *, address: str = "scripted://device", chunk: int | None = None,
                 hang_up_at_end: bool = False) -> None:
        self.address = address
        self.script: list[Exchange] = list(script)
        self.chunk = chunk
        self.hang_up_at_end = hang_up_at_end
        self.written: list[bytes] = []
        self.connects = 0
        self.closed = False
        self._index = 0
        self._got = b""  # bytes written so far towards the current pair's expected bytes
        self._out = b""  # reply bytes not read yet

    # ------------------------------------------------------------------ ByteLink

    def connect(self, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        self.connects += 1
        self.closed = False
        return True

    def read(self, timeout_s: float) -> bytes:
        self._release()
        if not self._out:
            if self.hang_up_at_end and self._index >= len(self.script):
                raise ConnectionLost(f"{self.address}: end of the script")
            return b""
        n = len(self._out) if self.chunk is None else self.chunk
        data, self._out = self._out[:n], self._out[n:]
        return data

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.written.append(data)
        self._release()
        if self._out:
            raise ScriptMismatch(f"{self.address}: wrote {data!r} while the device's {self._out!r} was not read yet")
        if self._index >= len(self.script):
            raise ScriptMismatch(f"{self.address}: wrote {data!r} after the last scripted exchange")
        expected = self.script[self._index][0]
        want = (expected or b"")[len(self._got):]
        if expected is None or not want.startswith(data):
            raise ScriptMismatch(f"{self.address}: exchange {self._index + 1}: expected to write {want!r}, "
                                 f"got {data!r}")
        self._got += data
        if self._got == expected:
            self._advance()

    def close(self) -> None:
        self.closed = True

    # ------------------------------------------------------------------ checks

    @property
    def remaining(self) -> list[Exchange]:
        """Exchanges not played yet (the current one included while it is incomplete)."""
        self._release()
        return self.script[self._index:]

    def assert_done(self) -> None:
        """Fail if an exchange was not used or a reply was not read."""
        left = self.remaining
        if left or self._out:
            raise ScriptMismatch(f"{self.address}: {len(left)} scripted exchange(s) not used "
                                 f"(next: {left[0] if left else None!r}); reply bytes not read: {self._out!r}")

    def __enter__(self) -> ScriptedLink:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.assert_done()

    # ------------------------------------------------------------------ internals

    def _advance(self) -> None:
        reply = self.script[self._index][1]
        self._out += reply or b""
        self._index += 1
        self._got = b""

    def _release(self) -> None:
        """Play the pairs in which the device speaks first, once what came before was read."""
        while not self._out and self._index < len(self.script) and self.script[self._index][0] is None:
            self._advance()
