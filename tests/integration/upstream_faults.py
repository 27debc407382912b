"""A fault-injecting HTTP/1.1 proxy on loopback in front of the real hub (a test double for the transport
only): per request it forwards, answers 500 or 429 with Retry-After itself, refuses the connection, or
forwards and then cuts the connection before the lab sees the hub's answer (the hub has committed), forwards
after a delay (a slow hub), or reads the request and never answers (a hub that hangs)."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import deque

import httpx

PASS, ERROR_500, CUT_AFTER_COMMIT, DROP, HANG = "pass", "500", "cut_after_commit", "drop", "hang"


def retry_after(seconds: int) -> str:
    return f"429:{seconds}"


def slow(seconds: float, then: str = "pass") -> str:
    """``then`` (forwarded to the hub, or another mode) after ``seconds``."""
    return f"slow:{seconds}:{then}"


def _read_request(sock: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return method, path, headers, body


def _answer(status: int, reason: str, body: bytes, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", f"content-length: {len(body)}", "connection: close",
             "content-type: application/json"] + [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class FaultProxy:
    """``FaultProxy(hub_url, plan)``: the next request gets ``plan.popleft()`` (``pass`` once it is empty).
    ``log`` lists (mode, Idempotency-Key) per request; ``hub_up`` False answers every request by closing."""

    def __init__(self, hub_url: str, plan: list[str] | None = None) -> None:
        self.hub_url = hub_url
        self.plan: deque[str] = deque(plan or [])
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handle(self, sock: socket.socket) -> None:
        req = _read_request(sock)
        if req is None:
            return
        method, path, headers, body = req
        with self.lock:
            mode = self.plan.popleft() if self.plan else PASS
            self.log.append((mode, headers.get("idempotency-key", "")))
        if mode.startswith("slow:"):
            delay, _, mode = mode[5:].partition(":")
            time.sleep(float(delay))
        if mode == DROP:
            return  # connection closed without an answer, nothing forwarded
        if mode == HANG:
            try:
                while sock.recv(65536):  # no answer, ever: until the lab gives up (its timeout) or dies
                    pass
            except OSError:
                pass
            return
        if mode == ERROR_500:
            sock.sendall(_answer(500, "Internal Server Error", b'{"title": "injected"}'))
            return
        if mode.startswith("429:"):
            sock.sendall(_answer(429, "Too Many Requests", b'{"title": "slow down"}', {"retry-after": mode[4:]}))
            return
        fwd = {k: v for k, v in headers.items() if k not in ("host", "content-length", "connection")}
        resp = httpx.request(method, self.hub_url + path, content=body, headers=fwd, timeout=10)
        if mode == CUT_AFTER_COMMIT:
            return  # the hub answered (and committed); the lab never sees it
        sock.sendall(_answer(resp.status_code, resp.reason_phrase, resp.content))

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
