"""`lims serve` and `lims hub serve` (CONTRACTS.md). The ASGI apps are named by import string so the
`lims` package does not import `api` (dependency direction api → lims)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="启动 Web 界面与 API / serve the web UI and the API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (the API is stateless; use about one per core on PostgreSQL)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    return run_asgi("api.app:create_app", args.host, args.port, workers=args.workers)


def run_asgi(factory: str, host: str, port: int, *, workers: int = 1) -> int:
    import uvicorn

    uvicorn.run(factory, factory=True, host=host, port=port, log_level="info", workers=max(1, workers))
    return 0
