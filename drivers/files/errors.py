"""Typed errors of the file importers: they name the file and the line or byte offset."""

from __future__ import annotations


class ChromatogramFileError(ValueError):
    def __init__(self, message: str, *, file: str, line: int | None = None, byte_offset: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.line = line
        self.byte_offset = byte_offset
        self.field = field
        self.detail = message
        where = [file]
        if line is not None:
            where.append(f"line {line}")
        if byte_offset is not None:
            where.append(f"byte offset {byte_offset}")
        if field:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")
