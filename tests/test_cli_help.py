"""Issue 17, CLI start-up: building the `lims` parser loads no heavy library (the sub-command handlers
import theirs when they run), and every sub-command's ``--help`` works. Not a timing test: the figures
come from bench/bench_cli_startup.py."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from lims.cli import COMMAND_MODULES, COMMANDS, build_parser, command_paths

HEAVY = ("sqlalchemy", "scipy", "numpy", "fastapi", "reportlab", "pymodbus", "pydantic_settings",
         "lims.config", "lims.db", "alembic", "uvicorn", "pandas")




def test_building_the_parser_imports_no_heavy_library() -> None:
    code = ("import json, sys\n"
            "from lims.cli import build_parser\n"
            "build_parser()\n"
            f"heavy = {HEAVY!r}\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy"
            " or any(m.startswith(h + '.') for h in heavy))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    assert loaded == [], f"building the parser imported: {loaded[:20]}"


def _registered() -> list[tuple[str, str, str]]:
    """(command, module, help) of every top-level command, as the modules themselves register them."""
    rows = []
    for module in COMMAND_MODULES:
        parser = argparse.ArgumentParser(prog="lims")
        sub = parser.add_subparsers()
        __import__(module, fromlist=["register"]).register(sub)
        rows += [(action.dest, module, action.help or "") for action in sub._choices_actions]
    return rows


def test_the_command_table_matches_what_the_modules_register() -> None:
    # `lims --help` lists the commands from lims.cli.COMMANDS without importing their modules
    assert [(name, module, text) for name, (module, text) in COMMANDS.items()] == _registered()


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser(["--help"]).parse_args(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for name, (_module, text) in COMMANDS.items():
        assert name in out and text.split(" / ")[0] in out


def test_calibrate_choices_are_the_library_s() -> None:
    from calibration.curves import MODELS, WEIGHTS
    from lims.cli import calibrate

    assert (calibrate.MODELS, calibrate.WEIGHTS) == (MODELS, WEIGHTS)


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "lims")
def test_every_help_exits_zero(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*path, "--help"]
    with pytest.raises(SystemExit) as stop:
        build_parser(argv).parse_args(argv)  # as `lims` builds it: only the named command's module
    assert stop.value.code == 0
    assert "usage: lims" in capsys.readouterr().out


def test_the_lims_script_help_exits_zero() -> None:
    done = subprocess.run([sys.executable, "-m", "lims.cli", "pt", "assign", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "--method" in done.stdout
