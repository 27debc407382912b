"""The `lims` command (CONTRACTS.md). Each sub-command group lives in its own module
with a ``register(subparsers)`` function; ``main`` maps errors to the contract's exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys

from lims.cli.common import EXIT_BAD_INPUT, EXIT_FAILURE, BadInput

COMMAND_MODULES = (
    "lims.cli.demo",
    "lims.cli.serve",
    "lims.cli.db",
    "lims.cli.audit",
    "lims.cli.hub",
    "lims.cli.calibrate",
    "lims.cli.chrom",
    "lims.cli.pt",
    "lims.cli.astm",
    "lims.cli.sim",
    "lims.cli.acquire",
    "lims.cli.user",
    "lims.cli.limits",
    "lims.cli.upstream",
    "lims.cli.qc",
    "lims.cli.quality",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lims", description="县级农产品质量安全检测实验室信息管理系统 / county lab LIMS")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(sub)
    return parser




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        code = handler(args)
    except BadInput as exc:
        print(f"lims {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_FAILURE
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
