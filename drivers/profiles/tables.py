"""Validated reading of a TOML document, shared by device profiles and the acquisition configuration: a
table knows the dotted path to itself, so every error names the file and the key
(``line.records[1].fields[3].type``, ``instrument[2].transport``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drivers.errors import ProfileError

#: Builds the error to raise: ``(message, file, key)``; the key is None for the document itself.
ErrorFactory = Callable[[str, str, "str | None"], Exception]


def profile_error(message: str, file: str, key: str | None) -> Exception:
    return ProfileError(message, file=file, key=key)


class TomlTable:
    """A TOML table with the dotted path to it (``key``, '' for the document) and the file it came from."""

    def __init__(self, data: Any, file: str, key: str, *, error: ErrorFactory = profile_error) -> None:
        self.file = file
        self.key = key
        self.make_error = error
        if not isinstance(data, dict):
            raise error("expected a table", file, key or None)
        self.data: dict[str, Any] = data

    def key_of(self, name: str) -> str:
        """The dotted key of ``name`` inside this table."""
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, message: str) -> Exception:
        """The error for key ``name`` of this table."""
        return self.make_error(message, self.file, self.key_of(name))

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *,
            choices: tuple[Any, ...] | None = None) -> Any:
        """Value of ``name``, checked against ``kind`` (a boolean is never taken for a number) and
        ``choices``; ``default`` when absent (required when no default is given)."""
        if name not in self.data:
            if default is ...:
                raise self.error(name, "required key is missing")
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            names = "/".join(k.__name__ for k in kinds)
            raise self.error(name, f"expected {names}, got {type(value).__name__} {value!r}")
        if choices is not None and value not in choices:
            raise self.error(name, f"{value!r} is not one of {', '.join(map(repr, choices))}")
        return value

    def positive(self, name: str, default: float | None) -> float | None:
        """A number > 0 (or ``default`` when absent), as a float."""
        value = self.get(name, (int, float), default)
        if value is not None and value <= 0:
            raise self.error(name, f"must be > 0, got {value!r}")
        return float(value) if value is not None else None

    def table(self, name: str, *, required: bool = True) -> TomlTable | None:
        """The sub-table ``name`` (None when absent and not ``required``)."""
        if name not in self.data:
            if required:
                raise self.error(name, "required table is missing")
            return None
        return TomlTable(self.data[name], self.file, self.key_of(name), error=self.make_error)

    def tables(self, name: str) -> list[TomlTable]:
        """The non-empty array of tables ``name``."""
        value = self.data.get(name)
        if not isinstance(value, list) or not value:
            raise self.error(name, "expected a non-empty array of tables")
        return [TomlTable(item, self.file, f"{self.key_of(name)}[{i}]", error=self.make_error)
                for i, item in enumerate(value)]

    def check_keys(self, allowed: set[str]) -> None:
        """Refuse a key not in ``allowed`` (a typo must not be silently ignored)."""
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown key (allowed: {', '.join(sorted(allowed))})")
