"""python-astm (PyPI ``astm-2025``, import ``astm``) as the peer of ``lims acquire``'s ASTM sender role, on
real loopback TCP sockets, in both roles:

- :class:`QueryingAnalyzer` — python-astm's :class:`astm.client.Client` sends a host query (H, Q, L); on the
  same connection it then receives our answer through python-astm's own receiver code
  (:class:`astm.server.RequestHandler`'s ``on_enq``/``on_message``/``on_eot``/``handle_message`` and its
  :class:`astm.server.BaseRecordsDispatcher`);
- :func:`receiving_server` — python-astm's :class:`astm.server.Server` receives our order download.

python-astm's Python 3 bugs are worked around here, never in the product (:func:`patch_python_astm`):
``asynclib`` calls the Python 2 builtin ``buffer`` and ``b('')`` and resets its byte input buffer to
``''`` (str), so the second read fails; the client opens a new session (ENQ) right after its EOT and
closes the socket when its records run out, which would cut our answer off; its record-order check compares
bytes record types with str keys (so it is turned off); its records must be given
as bytes (its str path recurses).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

asynclib = pytest.importorskip("astm.asynclib")
from astm import server as astm_server  # noqa: E402
from astm.client import Client  # noqa: E402
from astm.constants import EOT  # noqa: E402


def patch_python_astm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3 fixes of python-astm's asynclib (module docstring), for one test."""
    monkeypatch.setattr(asynclib, "buffer", lambda data, offset, size: bytes(data[offset:offset + size]),
                        raising=False)
    monkeypatch.setattr(asynclib, "b", lambda text: text.encode("latin-1"), raising=False)

    def none_terminator(self: Any, terminator: Any) -> bool:
        self.pull(self._input_buffer)
        self._input_buffer = b""
        return False

    def int_terminator(self: Any, terminator: int) -> bool:
        if len(self._input_buffer) < terminator:
            return none_terminator(self, terminator)
        self.pull(self._input_buffer[:terminator])
        self._input_buffer = self._input_buffer[terminator:]
        self.found_terminator()
        return True

    original_str = asynclib.AsyncChat._lookup_str_terminator

    def str_terminator(self: Any, terminator: bytes) -> bool | None:
        out = original_str(self, terminator)
        if self._input_buffer == "":
            self._input_buffer = b""
        return out  # type: ignore[no-any-return]

    monkeypatch.setattr(asynclib.AsyncChat, "_lookup_none_terminator", none_terminator)
    monkeypatch.setattr(asynclib.AsyncChat, "_lookup_int_terminator", int_terminator)
    monkeypatch.setattr(asynclib.AsyncChat, "_lookup_str_terminator", str_terminator)


class Collecting(astm_server.BaseRecordsDispatcher):
    """python-astm's records dispatcher keeping every decoded record (lists, as python-astm decodes them)."""

    def __init__(self, encoding: str | None = None) -> None:
        super().__init__(encoding)
        self.records: list[list[Any]] = []
        for key in list(self.dispatch):
            self.dispatch[key] = self.records.append
        self.dispatch["Q"] = self.records.append
        self.on_unknown = self.records.append  # type: ignore[method-assign]


class QueryingAnalyzer(Client):
    """python-astm's client sending ``records`` (one session), then python-astm's receiver on the same
    connection (module docstring). ``dispatcher.records`` holds what it received."""

    on_enq = astm_server.RequestHandler.on_enq
    handle_message = astm_server.RequestHandler.handle_message

    def __init__(self, records: list[list[Any]], host: str, port: int) -> None:
        def emitter() -> Any:  # python-astm send()s into it: a plain loop, not ``yield from`` a list
            for rec in records:  # noqa: UP028
                yield rec

        self.dispatcher = Collecting("latin-1")
        self._chunks: list[bytes] = []
        self._is_transfer_state = False
        self.sessions_received = 0
        self.query_sent = False
        super().__init__(emitter, host=host, port=port, encoding="latin-1", timeout=None, flow_map=None)

    def _open_session(self) -> None:
        if not self.query_sent:  # python-astm opens a second session after its EOT: one is all we send
            super()._open_session()

    def _close_session(self, close_connection: bool = False) -> None:
        if not self.query_sent:
            self.query_sent = True
            self.push(EOT)  # and keep the connection: our answer comes on it

    def on_ack(self) -> None:
        if not self.query_sent:
            super().on_ack()

    def on_message(self) -> bytes:  # python-astm's receiver, not the client's refusal
        return astm_server.RequestHandler.on_message(self)  # type: ignore[no-any-return]

    def on_eot(self) -> None:  # type: ignore[override]
        astm_server.RequestHandler.on_eot(self)
        self.sessions_received += 1

    def discard_input_buffers(self) -> None:
        self._chunks = []
        self._input_buffer = b""
        self.inbox.clear()

    def run_until(self, done: Any, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done() and time.monotonic() < deadline:
            asynclib.loop(timeout=0.05, count=1, map=None)
        assert done(), "python-astm peer timed out"


class ReceivingServer:
    """python-astm's :class:`astm.server.Server` on a loopback port in a thread; ``records`` collects
    every record of every message it received (python-astm's decoding)."""

    def __init__(self) -> None:
        self.records: list[list[Any]] = []
        collected = self.records

        class Dispatcher(Collecting):
            def __init__(self, encoding: str | None = None) -> None:
                super().__init__(encoding)
                self.records = collected
                for key in list(self.dispatch):
                    self.dispatch[key] = collected.append

        self.server = astm_server.Server(host="127.0.0.1", port=0, dispatcher=Dispatcher, encoding="latin-1")
        self.port = self.server.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            asynclib.loop(timeout=0.05, count=1)

    def __enter__(self) -> ReceivingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        asynclib.close_all()
