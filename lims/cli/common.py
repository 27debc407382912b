"""Shared plumbing for the `lims` command line (CONTRACTS.md, general rules).

- ``--json`` prints exactly one JSON document on stdout.
- Exit 0 on success, 2 on bad input (one line on stderr naming file, line/record and field),
  1 on any other failure. Never a traceback for bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lims import csvio

if TYPE_CHECKING:  # building the parser must not import SQLAlchemy (issue 17: `lims --help` start-up)
    from sqlalchemy import Engine

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")


class BadInput(Exception):
    """Input the user can fix: names the file, the line or record and the field."""

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        self.detail = message
        where = []
        if self.file:
            where.append(self.file)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        super().__init__((": ".join([", ".join(where), message])) if where else message)


@dataclass(frozen=True)
class CsvRow:
    """One data row: ``line`` is the 1-based physical line number in the file."""

    line: int
    values: dict[str, str]

    def text(self, column: str, *, file: str | Path, required: bool = True) -> str | None:
        value = self.values.get(column)
        if value is None or value.strip() == "":
            if required:
                raise BadInput("value is missing", file=file, line=self.line, field=column)
            return None
        return value.strip()

    def number(self, column: str, *, file: str | Path, required: bool = True) -> float | None:
        raw = self.text(column, file=file, required=required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"not a number: {raw!r}", file=file, line=self.line, field=column) from None
        if not math.isfinite(value):
            raise BadInput(f"not a finite number: {raw!r}", file=file, line=self.line, field=column)
        return value


def command_group(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                  help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """``lims NAME ACTION …``: adds the group ``name`` and returns its (required) actions."""
    group = sub.add_parser(name, help=help)
    actions: argparse._SubParsersAction[argparse.ArgumentParser] = group.add_subparsers(
        dest=f"{name}_command", metavar="ACTION", required=True)
    return actions


def on_database(failure: str, action: Callable[[Engine], T]) -> T | None:
    """``action`` on the engine of ``LIMS_DATABASE_URL``, disposed afterwards. Any error is one stderr line
    ``{failure} {url}: {error}`` (never a traceback) and None: the command then exits 1."""
    from lims.db.engine import make_engine

    engine = make_engine()
    try:
        return action(engine)
    except Exception as exc:  # noqa: BLE001 - report, never a traceback
        print(f"{failure} {engine.url.render_as_string()}: {exc}", file=sys.stderr)
        return None
    finally:
        engine.dispose()


def read_csv(path: str | Path, required: Sequence[str], optional: Iterable[str] = ()) -> list[CsvRow]:
    """Read a contract CSV with :mod:`lims.csvio`; any problem is :class:`BadInput` naming file, line, field."""
    try:
        table = csvio.CsvTable.from_file(path)
        table.require(required)
        return [CsvRow(line=r.line, values=r.values) for r in table.rows([*required, *optional])]
    except csvio.CsvError as exc:
        raise BadInput(exc.detail, file=exc.source, line=exc.line, field=exc.field) from None


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _clean(obj.item())
    return obj


def emit_json(document: Any) -> None:
    """Print exactly one JSON document (full float precision; NaN/inf become null)."""
    sys.stdout.write(json.dumps(_clean(document), ensure_ascii=False, allow_nan=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------- database commands

def session_factory() -> Any:
    """The audited session factory of LIMS_DATABASE_URL (the ``lims method`` and ``lims analyte`` commands)."""
    from lims.db import audit
    from lims.db.engine import make_engine, make_session_factory

    audit.install()
    return make_session_factory(make_engine())


def database_failure(command: str, factory: Any, exc: Exception) -> int:
    """``command``: what follows ``lims`` (``method import``, ``analyte list``)."""
    url = factory.kw["bind"].url.render_as_string()
    print(f"lims {command}: database {url}: {str(exc).splitlines()[0]}", file=sys.stderr)
    return EXIT_FAILURE


def print_listing(args: argparse.Namespace, command: str, read: Callable[[Any], list[Any]], *, empty: str,
                  show: Callable[[Any], str]) -> int:
    """``lims method list`` / ``lims analyte list``: the rows ``read`` gives (dataclasses), as one JSON
    document with ``--json``, else one ``show(row)`` each (``empty`` when there are none)."""
    from sqlalchemy.exc import SQLAlchemyError

    factory = session_factory()
    try:
        with factory() as s:
            rows = read(s)
    except SQLAlchemyError as e:
        return database_failure(command, factory, e)
    finally:
        factory.kw["bind"].dispose()
    if args.json:
        emit_json([dataclasses.asdict(r) for r in rows])
        return EXIT_OK
    if not rows:
        print(empty)
    for r in rows:
        print(show(r))
    return EXIT_OK
