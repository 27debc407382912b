"""Device-side byte links: a pty pair (a real serial device for the host) and a TCP server.

The host opens the pty's slave path with pyserial exactly like ``/dev/ttyUSB0``. pyserial flushes
the input queue when it opens a port, so a device must not talk before the host has opened the
port: :meth:`Link.wait_for_host` blocks until then (pty: the master stops reporting POLLHUP once a
slave descriptor is open; TCP: a client connects).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
import tty


class LinkClosed(Exception):
    """The host side went away (TCP peer closed, or the link was stopped)."""


class Link:
    """Common interface: ``address``, ``wait_for_host``, ``write``, ``read``, ``drop``, ``close``."""

    address: str

    def wait_for_host(self, stop: threading.Event, timeout: float | None = None) -> bool:
        raise NotImplementedError

    def write(self, data: bytes, stop: threading.Event, byte_delay_s: float = 0.0) -> None:
        raise NotImplementedError

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def drop(self) -> None:
        """Break the connection (cable pulled); the next ``wait_for_host`` waits for the host again."""

    def close(self) -> None:
        raise NotImplementedError


class PtyLink(Link):
    """The device end of a pseudo-terminal pair, both ends in raw mode."""

    #: pause after the host opened the slave, so pyserial's input flush has happened
    OPEN_SETTLE_S = 0.1

    def __init__(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self.address = self.path
        os.close(slave)
        os.set_blocking(master, False)
        self._fd = master
        self._closed = False

    def _host_open(self) -> bool:
        poller = select.poll()
        poller.register(self._fd, select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in poller.poll(0))

    def wait_for_host(self, stop: threading.Event, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not stop.is_set() and not self._closed:
            if self._host_open():
                time.sleep(self.OPEN_SETTLE_S)
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return False

    def write(self, data: bytes, stop: threading.Event, byte_delay_s: float = 0.0) -> None:
        chunks = [data[i:i + 1] for i in range(len(data))] if byte_delay_s > 0 else [data]
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                if stop.is_set() or self._closed:
                    raise LinkClosed("link stopped")
                try:
                    n = os.write(self._fd, view)
                    view = view[n:]
                except BlockingIOError:
                    select.select([], [self._fd], [], 0.05)
            if byte_delay_s > 0:
                time.sleep(byte_delay_s)

    def read(self, timeout: float) -> bytes:
        if self._closed:
            raise LinkClosed("link closed")
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self._fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:  # EIO: no slave open (host closed the port)
            if exc.errno == errno.EIO:
                time.sleep(min(timeout, 0.05))
                return b""
            raise

    def drop(self) -> None:
        """A serial cable cannot be reopened by the device: a pty 'disconnect' is silence."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._fd)


class TcpServerLink(Link):
    """A listening TCP socket serving one host connection at a time (serial-to-Ethernet box)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.05)
        self.host = host
        self.port = self._server.getsockname()[1]
        self.address = f"socket://{host}:{self.port}"
        self._conn: socket.socket | None = None
        self._closed = False

    def wait_for_host(self, stop: threading.Event, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not stop.is_set() and not self._closed:
            if self._conn is not None:
                return True
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, BlockingIOError):
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                continue
            except OSError:
                return False
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(0.5)
            self._conn = conn
            time.sleep(PtyLink.OPEN_SETTLE_S)  # pyserial's socket:// open drains what arrives first
            return True
        return False

    def _require(self) -> socket.socket:
        if self._conn is None or self._closed:
            raise LinkClosed("no host connected")
        return self._conn

    def write(self, data: bytes, stop: threading.Event, byte_delay_s: float = 0.0) -> None:
        conn = self._require()
        chunks = [data[i:i + 1] for i in range(len(data))] if byte_delay_s > 0 else [data]
        try:
            for chunk in chunks:
                if stop.is_set():
                    raise LinkClosed("link stopped")
                conn.sendall(chunk)
                if byte_delay_s > 0:
                    time.sleep(byte_delay_s)
        except OSError as exc:
            self.drop()
            raise LinkClosed(f"host connection lost: {exc}") from exc

    def read(self, timeout: float) -> bytes:
        conn = self._require()
        ready, _, _ = select.select([conn], [], [], timeout)
        if not ready:
            return b""
        try:
            data = conn.recv(4096)
        except OSError as exc:
            self.drop()
            raise LinkClosed(f"host connection lost: {exc}") from exc
        if not data:
            self.drop()
            raise LinkClosed("host closed the connection")
        return data

    def drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.drop()
            self._server.close()
