"""`lims serve` and `lims hub serve` (CONTRACTS.md). The ASGI apps are named by import string so the
`lims` package does not import `api` (dependency direction api → lims).

With ``--workers N`` each worker process binds its own listening socket with SO_REUSEPORT, so the
kernel spreads connections evenly over the workers (a single shared socket lets whichever worker wakes
first accept most keep-alive connections, leaving the other cores idle)."""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="启动 Web 界面与 API / serve the web UI and the API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (the API is stateless; use about one per core on PostgreSQL)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    return run_asgi("api.app:create_app", args.host, args.port, workers=args.workers)


def _config(factory: str, host: str, port: int):  # type: ignore[no-untyped-def]
    import uvicorn

    return uvicorn.Config(factory, factory=True, host=host, port=port, log_level="info",
                          http="httptools", loop="uvloop")


def _socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(factory: str, host: str, port: int) -> None:
    import uvicorn

    sock = _socket(host, port, reuse_port=True)
    sock.listen(2048)
    uvicorn.Server(_config(factory, host, port)).run(sockets=[sock])


def run_asgi(factory: str, host: str, port: int, *, workers: int = 1) -> int:
    import uvicorn

    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        if workers > 1:
            print("此平台无 SO_REUSEPORT，改为单进程 / no SO_REUSEPORT here: serving with one process",
                  file=sys.stderr)
        uvicorn.Server(_config(factory, host, port)).run()
        return 0
    # Bind once in the parent, without SO_REUSEPORT, so a port already in use — also by another
    # `lims serve`, whose workers' sockets would otherwise happily share it — fails here with a message.
    try:
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        print(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(factory, host, port), daemon=False) for _ in range(workers)]
    for p in procs:
        p.start()
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"lims serve: {workers} workers on http://{host}:{port} (SO_REUSEPORT)", file=sys.stderr, flush=True)
    while not stopping:  # supervise: a worker that dies is replaced
        for i, p in enumerate(procs):
            if not p.is_alive() and not stopping:
                print(f"worker {p.pid} exited ({p.exitcode}); restarting", file=sys.stderr, flush=True)
                procs[i] = ctx.Process(target=_worker, args=(factory, host, port), daemon=False)
                procs[i].start()
        time.sleep(0.5)
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    return 0
