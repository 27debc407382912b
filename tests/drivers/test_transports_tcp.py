"""TCP client/server links and the reconnect backoff, over real sockets on 127.0.0.1."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from drivers.errors import TransportError
from drivers.transports.backoff import Backoff, Retrier
from drivers.transports.tcp import ConnectionLost, TcpClient, TcpServer


def test_full_jitter_delay_is_uniform_below_the_capped_exponential_ceiling():
    b = Backoff(base_s=0.5, cap_s=4.0, factor=2.0)
    assert [b.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.ceiling(10_000) == 4.0  # no overflow far past the cap
    rng = random.Random(1)
    draws = [b.delay(3, rng) for _ in range(2000)]
    assert 0.0 <= min(draws) and max(draws) <= 4.0
    assert 1.8 < sum(draws) / len(draws) < 2.2  # mean of U(0, 4)
    with pytest.raises(ValueError):
        Backoff(base_s=0)


def test_retrier_grows_then_resets_and_stop_cuts_the_wait():
    r = Retrier(Backoff(base_s=0.01, cap_s=0.02), random.Random(0))
    r.failed()
    r.failed()
    assert r.attempt == 2
    r.succeeded()
    assert r.attempt == 0
    stop = threading.Event()
    stop.set()
    slow = Retrier(Backoff(base_s=50, cap_s=50), random.Random(0))
    t0 = time.monotonic()
    slow.failed(stop)
    assert time.monotonic() - t0 < 0.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_reconnects_with_backoff_when_the_server_comes_up_late():
    port = _free_port()
    client = TcpClient("127.0.0.1", port, backoff=Backoff(base_s=0.02, cap_s=0.1))
    with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
        client.open()
    accepted: list[socket.socket] = []

    def serve_later() -> None:
        time.sleep(0.3)
        srv = socket.create_server(("127.0.0.1", port))
        conn, _ = srv.accept()
        accepted.append(conn)
        conn.sendall(b"\x05")
        srv.close()

    t = threading.Thread(target=serve_later)
    t.start()
    assert client.connect(threading.Event())
    t.join()
    assert client.retrier.attempt == 0  # reset after success
    got = b""
    while not got:
        got = client.read(1.0)
    assert got == b"\x05"
    assert client.read(0.05) == b""  # timeout, not an error
    accepted[0].close()
    with pytest.raises(ConnectionLost):
        for _ in range(20):
            client.read(0.1)
    assert not client.is_open


def test_server_accepts_one_instrument_and_a_new_connection_replaces_the_old():
    server = TcpServer("127.0.0.1", 0)
    try:
        a = socket.create_connection(("127.0.0.1", server.port))
        assert server.accept(1.0) and server.is_open
        a.sendall(b"\x02partial")
        assert server.read(1.0) == b"\x02partial"
        server.write(b"\x06")
        assert a.recv(1) == b"\x06"
        b = socket.create_connection(("127.0.0.1", server.port))  # the instrument reconnected
        with pytest.raises(ConnectionLost, match="replaced"):
            for _ in range(20):
                server.read(0.1)
        assert server.read(1.0) == b""  # accepts the new connection
        b.sendall(b"\x05")
        assert server.read(1.0) == b"\x05"
        b.close()
        with pytest.raises(ConnectionLost, match="closed"):
            for _ in range(20):
                server.read(0.1)
        a.close()
    finally:
        server.close()
