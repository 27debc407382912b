"""The configuration reference (deploy/configuration.md), generated from the one settings class
(lims.config.Settings): every ``LIMS_`` variable with its type, its default and the comment written above
its field. ``python -m lims.ops.configref > deploy/configuration.md`` rewrites it; tests/ops/test_deploy.py
fails when the file and the class disagree, so the reference never goes stale.
"""

from __future__ import annotations

import ast
import inspect
import sys
from typing import Any, Literal

from lims import config

#: Variables read outside the settings class (by one command each), with their default and meaning.
OTHER = (
    ("LIMS_ACQUIRE_CONFIG", "`acquire.toml`", "instruments file of `lims acquire` (lims/acquisition/config.py)"),
    ("PROMETHEUS_MULTIPROC_DIR", "a fresh temporary folder",
     "where `lims serve --workers N` workers share their request counters (lims/ops/metrics.py)"),
)

HEADER = """# Configuration reference / 配置参考

Generated from `lims.config.Settings` by `python -m lims.ops.configref > deploy/configuration.md`;
`tests/ops/test_deploy.py` fails when this file and the class disagree. Every setting is an environment
variable (`/etc/lims/lims.env` in deploy/systemd). Paths that are relative are taken from the working
directory of the process (`/var/lib/lims` in the systemd units).

| variable | type | default | meaning |
|---|---|---|---|
"""


def _comments() -> dict[str, str]:
    """{field name: the ``#:`` comment lines above it} from the settings class's source."""
    source = inspect.getsource(config.Settings)
    lines = source.splitlines()
    found: dict[str, str] = {}
    previous: tuple[str, int] | None = None
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text: list[str] = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                text.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            if not text and previous is not None and previous[1] == node.lineno - 1:
                text = [found[previous[0]]]  # one comment over adjacent fields belongs to each of them
            found[node.target.id] = " ".join(text)
            previous = (node.target.id, node.end_lineno or node.lineno)
    return found


def _type(annotation: Any) -> str:
    if getattr(annotation, "__origin__", None) is Literal:
        return " | ".join(str(a) for a in annotation.__args__)
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "").replace("NoneType", "None")


def _default(value: Any) -> str:
    return "unset" if value is None else f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    comments = _comments()
    rows = []
    for name, field in config.Settings.model_fields.items():
        rows.append(f"| `LIMS_{name.upper()}` | {_cell(_type(field.annotation))} | {_cell(_default(field.default))} "
                    f"| {_cell(comments.get(name, ''))} |")
    other = "\n".join(f"| `{n}` | {d} | {_cell(m)} |" for n, d, m in OTHER)
    return (HEADER + "\n".join(rows) + "\n\nRead outside the settings class:\n\n| variable | default | meaning |\n"
            "|---|---|---|\n" + other + "\n")


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
