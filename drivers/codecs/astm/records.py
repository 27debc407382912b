"""ASTM E1394 / CLSI LIS02-A2 records: H P O R C Q L M.

Field numbers follow the standard: field 1 is the record type, so ``record.field(3)`` of an R record is the
universal test ID. Delimiters are declared by the H record (H.2, default ``|\\^&``: field, repeat,
component, escape); escape sequences ``&F&`` ``&S&`` ``&R&`` ``&E&`` stand for the field, component, repeat
and escape delimiters (LIS02-A2 §6.6). Field texts are kept as written and split/unescaped on demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from drivers.errors import FieldError

RECORD_TYPES = frozenset("HPORCQLM")
_tuple_new = tuple.__new__  # builds a Record without the Python-level NamedTuple.__new__


@dataclass(frozen=True)
class Delimiters:
    """Field, repeat, component and escape delimiters (H.2)."""

    field: str = "|"
    repeat: str = "\\"
    component: str = "^"
    escape: str = "&"

    @classmethod
    def from_header(cls, text: str, *, offset: int = 0) -> Delimiters:
        """Read the delimiters from the start of an H record (``H|\\^&…``)."""
        if len(text) < 5 or text[0] != "H":
            raise FieldError("header record must start with 'H' and four delimiters", offset=offset)
        known = _KNOWN_DELIMITERS.get(text[1:5])
        if known is not None:
            return known
        d = cls(text[1], text[2], text[3], text[4])
        if len({d.field, d.repeat, d.component, d.escape}) != 4 or any(c.isalnum() or c in "\r\n" for c in
                                                                       (d.field, d.repeat, d.component, d.escape)):
            raise FieldError(f"header declares invalid delimiters {text[1:5]!r}", offset=offset + 1, field="H.2")
        return d

    def escape_text(self, text: str) -> str:
        """Escape delimiter characters inside a value (LIS02-A2 §6.6)."""
        e = self.escape
        if e not in text and self.field not in text and self.component not in text and self.repeat not in text:
            return text
        out = []
        for ch in text:
            if ch == e:
                out.append(f"{e}E{e}")
            elif ch == self.field:
                out.append(f"{e}F{e}")
            elif ch == self.component:
                out.append(f"{e}S{e}")
            elif ch == self.repeat:
                out.append(f"{e}R{e}")
            else:
                out.append(ch)
        return "".join(out)

    def unescape(self, text: str) -> str:
        """Replace ``&F&`` ``&S&`` ``&R&`` ``&E&``; other escape sequences are left as written."""
        e = self.escape
        if e not in text:
            return text
        out = []
        i, n = 0, len(text)
        table = {"F": self.field, "S": self.component, "R": self.repeat, "E": e}
        while i < n:
            ch = text[i]
            if ch == e and i + 2 < n and text[i + 2] == e and text[i + 1] in table:
                out.append(table[text[i + 1]])
                i += 3
            else:
                out.append(ch)
                i += 1
        return "".join(out)


DEFAULT_DELIMITERS = Delimiters()
#: Validated delimiter sets by their four characters (every message's H record repeats them).
_KNOWN_DELIMITERS: dict[str, Delimiters] = {"|\\^&": DEFAULT_DELIMITERS}


class Record(NamedTuple):
    """One record: ``fields[0]`` is the record type; texts are as written (still escaped). (A named
    tuple: immutable and cheap, one per received record.)"""

    fields: tuple[str, ...]
    delimiters: Delimiters = DEFAULT_DELIMITERS

    @property
    def type(self) -> str:
        return self.fields[0][:1]

    def field(self, number: int) -> str:
        """Field ``number`` (1-based, as numbered in E1394) as written; '' when absent."""
        return self.fields[number - 1] if 0 < number <= len(self.fields) else ""

    def value(self, number: int) -> str:
        """Field ``number`` with escapes resolved."""
        return self.delimiters.unescape(self.field(number))

    def components(self, number: int, repeat: int = 0) -> list[str]:
        """Components of field ``number`` (of its ``repeat``-th repetition), escapes resolved."""
        text = self.field(number)
        d = self.delimiters
        if self.type == "H" and number == 2:
            return [text]
        reps = text.split(d.repeat)
        if repeat >= len(reps):
            return []
        return [d.unescape(c) for c in reps[repeat].split(d.component)]

    def repeats(self, number: int) -> list[list[str]]:
        """Every repetition of field ``number``, each as its component list."""
        d = self.delimiters
        return [[d.unescape(c) for c in r.split(d.component)] for r in self.field(number).split(d.repeat)]

    def component(self, number: int, index: int) -> str:
        """Component ``index`` (1-based) of field ``number``; '' when absent."""
        comps = self.components(number)
        return comps[index - 1] if 0 < index <= len(comps) else ""


def parse_record(text: str, delimiters: Delimiters = DEFAULT_DELIMITERS) -> Record:
    """Split one record (without its CR) into fields."""
    return Record(tuple(text.split(delimiters.field)), delimiters)


def parse_records(data: bytes, *, encoding: str = "latin-1",
                  delimiters: Delimiters = DEFAULT_DELIMITERS) -> tuple[list[Record], Delimiters]:
    """Records of a message (records separated by CR). An H record sets the delimiters for what follows."""
    text = data.decode(encoding)
    lines = text.split("\r")
    if "\rH" not in text:  # the usual message: at most one H record, and it comes first
        if text[:1] == "H":
            delimiters = Delimiters.from_header(lines[0])
        field = delimiters.field
        return [_tuple_new(Record, (tuple(line.split(field)), delimiters)) for line in lines if line], delimiters
    out: list[Record] = []
    append = out.append
    field = delimiters.field
    for line in lines:
        if not line:
            continue
        if line[0] == "H":
            delimiters = Delimiters.from_header(line)
            field = delimiters.field
        append(Record(tuple(line.split(field)), delimiters))
    return out, delimiters


FieldValue = str | Sequence[str] | Sequence[Sequence[str]] | None


def encode_field(value: FieldValue, d: Delimiters = DEFAULT_DELIMITERS) -> str:
    """A field from a text (escaped), a component list, or a list of repetitions (component lists)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return d.escape_text(value)
    items = list(value)
    if items and not isinstance(items[0], str):
        return d.repeat.join(encode_field(list(r), d) for r in items)  # type: ignore[arg-type]
    return d.component.join(d.escape_text(c) for c in items)  # type: ignore[arg-type]


def encode_record(record_type: str, fields: Iterable[FieldValue], d: Delimiters = DEFAULT_DELIMITERS) -> str:
    """A record's text (without CR): ``fields`` are fields 2, 3, … of the record."""
    parts = [record_type]
    if record_type == "H":
        fields = list(fields)
        parts.append(d.repeat + d.component + d.escape)
        fields = fields[1:]  # H.2 is the delimiter definition itself
    parts.extend(encode_field(f, d) for f in fields)
    return d.field.join(parts)


@dataclass(frozen=True)
class AstmResult:
    """One R record with its sample (from the preceding O record), per CONTRACTS.md ``lims astm decode``."""

    sample_id: str | None
    test_code: str | None
    value: str
    units: str
    flags: str
    status: str
    completed_at: str
    instrument: str
    sequence: str = ""


def test_code_of(record: Record) -> str | None:
    """R.3 universal test ID, fourth component (``^^^CODE``); a field without components is the code."""
    comps = record.components(3)
    if len(comps) >= 4:
        return comps[3] or None
    if len(comps) == 1 and comps[0]:
        return comps[0]
    return None


def results_from_records(records: Iterable[Record]) -> list[AstmResult]:
    """Results of a message: ``sample_id`` is O.3 of the preceding O record (reset by H and P)."""
    out: list[AstmResult] = []
    sample_id: str | None = None
    for rec in records:
        kind = rec.type
        if kind == "O":
            sample_id = rec.value(3) or None
        elif kind in ("H", "P", "L"):
            sample_id = None
        elif kind == "R":
            out.append(AstmResult(sample_id=sample_id, test_code=test_code_of(rec), value=rec.value(4),
                                  units=rec.value(5), flags=rec.value(7), status=rec.value(9),
                                  completed_at=rec.value(13), instrument=rec.value(14), sequence=rec.field(2)))
    return out


def sender_of(records: Iterable[Record]) -> str | None:
    """H.5 sender name or ID, as written (escapes resolved)."""
    for rec in records:
        if rec.type == "H":
            return rec.value(5) or None
    return None
