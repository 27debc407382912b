"""Raw TCP byte links: a client (the LIMS connects to a serial-to-Ethernet converter or an instrument's
port) and a server (the instrument connects to the LIMS, as many data systems do for ASTM over TCP).

Both carry exactly the bytes of the serial line (no framing of their own, PROTOCOLS.md "every serial
device is also reachable over TCP"). Both share one small interface with the serial link:
``read(timeout_s) -> bytes`` (``b""`` when nothing arrived in time), ``write(data)``, ``close()``;
a peer that goes away raises :class:`ConnectionLost`, so the caller can drop its partial message and
reconnect (:meth:`TcpClient.connect` retries with capped exponential backoff and full jitter).
"""

from __future__ import annotations

import random
import select
import socket
import threading

from drivers.errors import TransportError
from drivers.transports.backoff import Backoff, Retrier

READ_CHUNK = 65536


class ConnectionLost(TransportError):
    """The peer closed the connection or it broke; bytes of a message in progress are incomplete."""


def _configure(sock: socket.socket) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # ACK/NAK bytes must not wait (Nagle)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setblocking(False)


def _read(sock: socket.socket, timeout_s: float, where: str) -> bytes:
    ready, _, _ = select.select([sock], [], [], max(timeout_s, 0.0))
    if not ready:
        return b""
    try:
        data = sock.recv(READ_CHUNK)
    except BlockingIOError:
        return b""
    except OSError as exc:
        raise ConnectionLost(f"{where}: connection broken: {exc}") from exc
    if not data:
        raise ConnectionLost(f"{where}: peer closed the connection")
    return data


def _write(sock: socket.socket, data: bytes, where: str, timeout_s: float) -> None:
    view = memoryview(data)
    while view:
        _, ready, _ = select.select([], [sock], [], timeout_s)
        if not ready:
            raise ConnectionLost(f"{where}: send blocked for {timeout_s:g} s")
        try:
            n = sock.send(view)
        except BlockingIOError:
            continue
        except OSError as exc:
            raise ConnectionLost(f"{where}: connection broken while sending: {exc}") from exc
        view = view[n:]


class TcpClient:
    """A TCP client link to ``host:port``.

    :meth:`open` tries once (``TransportError`` names the address); :meth:`connect` retries with the
    backoff policy until connected or ``stop`` is set. :meth:`read` returns ``b""`` on timeout and raises
    :class:`ConnectionLost` when the peer goes away (the socket is closed; call :meth:`connect` again).
    """

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 5.0, write_timeout_s: float = 5.0,
                 backoff: Backoff | None = None, rng: random.Random | None = None) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"TCP port {port} outside 1..65535")
        self.host, self.port = host, port
        self.address = f"socket://{host}:{port}"
        self.connect_timeout_s = connect_timeout_s
        self.write_timeout_s = write_timeout_s
        self.retrier = Retrier(backoff or Backoff(), rng or random.Random())
        self._sock: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        """Connect once; ``TransportError`` if refused or timed out."""
        self.close()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except OSError as exc:
            raise TransportError(f"{self.address}: cannot connect: {exc}") from exc
        _configure(sock)
        self._sock = sock

    def connect(self, stop: threading.Event | None = None) -> bool:
        """Connect, retrying with capped exponential backoff and full jitter; False if ``stop`` was set."""
        return self.retrier.until_open(self.open, stop)

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionLost(f"{self.address}: not connected")
        return self._sock

    def read(self, timeout_s: float) -> bytes:
        sock = self._require()
        try:
            return _read(sock, timeout_s, self.address)
        except ConnectionLost:
            self.close()
            raise

    def write(self, data: bytes) -> None:
        if not data:
            return
        sock = self._require()
        try:
            _write(sock, data, self.address, self.write_timeout_s)
        except ConnectionLost:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class TcpServer:
    """Listens on ``host:port`` for an instrument that connects to the LIMS; one connection at a time.

    :meth:`read` accepts a pending connection when none is open (returning ``b""``), otherwise reads from
    it. A new connection arriving while one is open replaces it: an instrument only reconnects after it
    lost the link (cable pulled, converter rebooted), so the old socket is half-open and would otherwise
    block the instrument forever. The replaced connection is reported as :class:`ConnectionLost`, so the
    caller discards the partial message it was receiving.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = 0, *, write_timeout_s: float = 5.0) -> None:
        try:
            self._listener = socket.create_server((host, port), reuse_port=False)
        except OSError as exc:
            raise TransportError(f"tcp-listen://{host}:{port}: cannot listen: {exc}") from exc
        self._listener.setblocking(False)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self.address = f"tcp-listen://{host}:{self.port}"
        self.write_timeout_s = write_timeout_s
        self.peer: str | None = None
        self._conn: socket.socket | None = None
        self._closed = False

    @property
    def is_open(self) -> bool:
        """True while an instrument is connected."""
        return self._conn is not None

    def accept(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for an instrument to connect (True if one is connected)."""
        if self._conn is not None:
            return True
        ready, _, _ = select.select([self._listener], [], [], max(timeout_s, 0.0))
        if not ready:
            return False
        try:
            conn, peer = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            raise TransportError(f"{self.address}: accept failed: {exc}") from exc
        _configure(conn)
        self._conn, self.peer = conn, f"{peer[0]}:{peer[1]}"
        return True

    def read(self, timeout_s: float) -> bytes:
        if self._closed:
            raise TransportError(f"{self.address}: closed")
        if self._conn is None:
            self.accept(timeout_s)
            return b""
        ready, _, _ = select.select([self._listener, self._conn], [], [], max(timeout_s, 0.0))
        if self._conn in ready:
            try:
                return _read(self._conn, 0.0, f"{self.address} (peer {self.peer})")
            except ConnectionLost:
                self.disconnect()
                raise
        if self._listener in ready:
            old = self.peer
            self.disconnect()
            raise ConnectionLost(f"{self.address}: connection from {old} replaced by a new connection")
        return b""

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._conn is None:
            raise ConnectionLost(f"{self.address}: no instrument connected")
        try:
            _write(self._conn, data, f"{self.address} (peer {self.peer})", self.write_timeout_s)
        except ConnectionLost:
            self.disconnect()
            raise

    def disconnect(self) -> None:
        """Close the current connection (keep listening)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn, self.peer = None, None

    def close(self) -> None:
        """Close the connection and stop listening."""
        self.disconnect()
        if not self._closed:
            self._closed = True
            self._listener.close()
