"""`lims hub serve` (CONTRACTS.md): the upstream receiver (province/ministry hub)."""

from __future__ import annotations

import argparse

from lims.cli.common import command_group
from lims.cli.serve import run_asgi


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = command_group(sub, "hub", "上级数据汇交中心 / upstream hub").add_parser("serve", help="serve the hub receiver")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8100)
    s.set_defaults(handler=lambda a: run_asgi("api.hub:create_hub_app", a.host, a.port))
