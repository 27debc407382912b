"""The `lims` command (CONTRACTS.md). Each sub-command group lives in its own module
with a ``register(subparsers)`` function; ``main`` maps errors to the contract's exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

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
    "lims.cli.analyte",
    "lims.cli.method",
    "lims.cli.upstream",
    "lims.cli.qc",
    "lims.cli.quality",
    "lims.cli.backup",
    "lims.cli.worklist",
)


# Every command the modules above register, in their order: (module, help). `lims --help` and
# `lims NAME …` import only the module of the command named (issue 17: start-up); the others are listed
# from here. tests/test_cli_help.py checks this table against what the modules register. A module not
# listed here still works: it is imported and registered every time.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("lims.cli.demo", "运行演示：一天的实验室工作 / run a simulated lab day"),
    "serve": ("lims.cli.serve", "启动 Web 界面与 API / serve the web UI and the API"),
    "db": ("lims.cli.db", "数据库维护 / database maintenance"),
    "audit": ("lims.cli.audit", "审计追踪 / audit trail"),
    "hub": ("lims.cli.hub", "上级数据汇交中心 / upstream hub"),
    "calibrate": ("lims.cli.calibrate", "fit a standard curve and predict concentrations / 拟合标准曲线"),
    "chrom": ("lims.cli.chrom", "chromatogram files / 色谱图"),
    "pt": ("lims.cli.pt", "proficiency testing (ISO 13528:2022) / 能力验证"),
    "astm": ("lims.cli.astm", "ASTM E1381/E1394 tools"),
    "sim": ("lims.cli.sim", "start a hardware simulator (prints where it listens)"),
    "acquire": ("lims.cli.acquire", "run the configured instruments' drivers"),
    "lab": ("lims.cli.user", "实验室信息 / laboratory"),
    "user": ("lims.cli.user", "用户管理 / user accounts"),
    "limits": ("lims.cli.limits", "限量标准 / maximum residue limits"),
    "analyte": ("lims.cli.analyte", "检测项目（农药、兽药、快检类别） / analytes"),
    "method": ("lims.cli.method", "检测方法、检测范围与授权签字人 / analysis methods, scope, signatories"),
    "upstream": ("lims.cli.upstream", "上报上级数据中心 / upstream delivery"),
    "qc": ("lims.cli.qc", "质控 / quality control"),
    "quality": ("lims.cli.quality", "质量体系：不符合、纠正措施、审核 / quality system"),
    "backup": ("lims.cli.backup", "备份数据库、报告与密钥 / back up the database, reports and keys"),
    "restore": ("lims.cli.backup", "从备份恢复并校验 / restore a backup and verify it"),
    "worklist": ("lims.cli.worklist", "工作清单：由批次生成、下发仪器 / worklists from batches, sent to instruments"),
}


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (top-level options are only -h)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``lims`` parser. Without ``argv``: every module registers its commands (the whole tree). With
    ``argv``: only the module of the command it names registers; the other commands are listed by name
    and help (:data:`COMMANDS`), so neither their modules nor their argument definitions load."""
    parser = argparse.ArgumentParser(prog="lims", description="县级农产品质量安全检测实验室信息管理系统 / county lab LIMS")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_named(argv) if argv is not None else None
    for name in COMMAND_MODULES:
        listed = [command for command, (module, _help) in COMMANDS.items() if module == name]
        if argv is None or not listed or wanted in listed:
            importlib.import_module(name).register(sub)
        else:
            for command in listed:
                sub.add_parser(command, help=COMMANDS[command][1])
    return parser


def command_paths() -> list[list[str]]:
    """``[]`` (the top level) and the path of every sub-command, walked from the whole parser (the
    ``--help`` test and the start-up benchmark run each)."""
    paths: list[list[str]] = [[]]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
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
