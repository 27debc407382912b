"""Code shape kept by the architecture pass (issue 10): no function over 60 lines or cyclomatic
complexity over 20 (radon), no module over 500 lines unless a comment near its top says why
(a line starting with ``# size:``). Migrations are frozen history and are not checked."""

from __future__ import annotations

import ast
from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("lims", "api", "drivers", "calibration", "proficiency", "hardware-sim", "bench", "tools")
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 20
MAX_MODULE_LINES = 500


def _sources() -> list[Path]:
    files = []
    for d in SOURCE_DIRS:
        files += [p for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


SOURCES = _sources()


def test_sources_found() -> None:
    assert len(SOURCES) > 100


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{name}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and (n.end_lineno or n.lineno) - n.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_over_60_lines() -> None:
    offenders = [o for p in SOURCES for o in _long_functions(p)]
    assert not offenders, "\n".join(offenders)


def test_no_function_over_complexity_20() -> None:
    offenders = [f"{p.relative_to(ROOT)}:{b.lineno} {b.name} (CC {b.complexity})"
                 for p in SOURCES for b in cc_visit(p.read_text(encoding="utf-8"))
                 if b.complexity > MAX_COMPLEXITY]
    assert not offenders, "\n".join(offenders)


def test_no_module_over_500_lines_without_a_reason() -> None:
    offenders = []
    for p in SOURCES:
        lines = p.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(ln.startswith("# size:") for ln in lines[:30]):
            offenders.append(f"{p.relative_to(ROOT)} ({len(lines)} lines)")
    assert not offenders, "\n".join(offenders)


def test_the_line_check_can_fail(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text("def f():\n" + "    x = 1\n" * 60, encoding="utf-8")
    assert _long_functions(path)
    path.write_text("def f():\n" + "    x = 1\n" * 59, encoding="utf-8")
    assert not _long_functions(path)
