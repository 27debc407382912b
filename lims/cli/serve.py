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
from collections.abc import Callable


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="启动 Web 界面与 API / serve the web UI and the API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (the API is stateless; use about one per core on PostgreSQL)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from lims.upstream.delivery import worker_from_settings

    try:  # LIMS_UPSTREAM_URL set: the upstream delivery worker runs beside the API (a thread of this process)
        upstream = worker_from_settings()
    except ValueError as exc:
        print(f"lims serve: {exc}", file=sys.stderr)
        return 2
    if upstream is not None:
        upstream.start_thread()
    try:
        return run_asgi("api.app:create_app", args.host, args.port, workers=args.workers, check=database_problem)
    finally:
        if upstream is not None:
            upstream.stop()


#: Seconds the start-up check waits for PostgreSQL to accept a connection.
CHECK_CONNECT_TIMEOUT_S = 5


def database_problem(url: str | None = None) -> str | None:
    """What is wrong with the database ``lims serve`` would use (None: reachable, schema at head).

    Checked once before serving, so a server pointed at a database that is down, unreachable or not
    migrated says so in one line and exits 1 instead of answering every request with a bare 500."""
    from sqlalchemy import text

    from lims.db.engine import make_engine
    from lims.db.migrate import current_revisions, head_revisions

    kwargs: dict[str, object] = {}
    if (url or "").startswith("postgres") or (url is None and _configured_url().startswith("postgres")):
        kwargs["connect_args"] = {"connect_timeout": CHECK_CONNECT_TIMEOUT_S}
    engine = make_engine(url, **kwargs)
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = set(current_revisions(engine)), set(head_revisions())
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return (f"数据库无法连接 / cannot reach the database {where}: "
                f"{reason[0] if reason else type(exc).__name__}")
    finally:
        engine.dispose()
    if current != head:
        have = ", ".join(sorted(current)) or "empty (no schema)"
        return (f"数据库结构版本不符 / the database {where} is at revision {have}, this version needs "
                f"{', '.join(sorted(head))}: run `lims db upgrade`")
    return None


def _configured_url() -> str:
    from lims.config import get_settings

    return get_settings().database_url


def _config(factory: str, host: str, port: int):  # type: ignore[no-untyped-def]
    import uvicorn

    from lims.ops.logs import configure

    # LIMS_LOG_FORMAT json|text with request IDs; uvicorn's access log is off (its lines carry the query
    # string): the app's request middleware writes the access line (lims/ops/logs.py).
    return uvicorn.Config(factory, factory=True, host=host, port=port, log_config=configure(), access_log=False,
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


def _share_metrics() -> None:
    """Workers count requests in one folder (lims/ops/metrics.py) so any worker's /metrics reports them all."""
    import os
    import tempfile

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lims-metrics-")


def run_asgi(factory: str, host: str, port: int, *, workers: int = 1,
             check: Callable[[], str | None] | None = None) -> int:
    import uvicorn

    # Bind once in the parent, without SO_REUSEPORT, so a port already in use — also by another
    # `lims serve`, whose workers' sockets would otherwise happily share it — fails here with a message.
    try:
        _socket(host, port, reuse_port=False).close()
    except OSError as exc:
        print(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 2
    problem = check() if check is not None else None
    if problem is not None:
        print(f"lims serve: {problem}", file=sys.stderr)
        return 1
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        if workers > 1:
            print("此平台无 SO_REUSEPORT，改为单进程 / no SO_REUSEPORT here: serving with one process",
                  file=sys.stderr)
        uvicorn.Server(_config(factory, host, port)).run()
        return 0
    _share_metrics()
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
