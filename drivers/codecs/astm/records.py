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

# Field numbers of the records, named by their clause of ASTM E1394-97 (the same fields as CLSI LIS02-A2):
# field n of a record is clause <section>.n — H §7.1, P §8.1, O §9.4, R §10.1, C §11.1, Q §12.1, L §13.1.
# Field 1 of every record is its type; field 2 (except in H) its sequence number.
RECORD_TYPE = 1  # E1394 7.1.1 / 8.1.1 / 9.4.1 / 10.1.1 / 11.1.1 / 12.1.1 / 13.1.1 record type ID
SEQUENCE = 2  # E1394 8.1.2 / 9.4.2 / 10.1.2 / 11.1.2 / 12.1.2 / 13.1.2 sequence number

H_DELIMITERS = 2  # E1394 7.1.2 delimiter definition
H_MESSAGE_ID = 3  # E1394 7.1.3 message control ID
H_PASSWORD = 4  # E1394 7.1.4 access password
H_SENDER = 5  # E1394 7.1.5 sender name or ID
H_RECEIVER = 10  # E1394 7.1.10 receiver ID
H_COMMENT = 11  # E1394 7.1.11 comment or special instructions
H_PROCESSING_ID = 12  # E1394 7.1.12 processing ID (P production, T training, D debugging, Q QC)
H_VERSION = 13  # E1394 7.1.13 version number
H_TIMESTAMP = 14  # E1394 7.1.14 date and time of message

P_PRACTICE_ID = 3  # E1394 8.1.3 practice assigned patient ID
P_LABORATORY_ID = 4  # E1394 8.1.4 laboratory assigned patient ID
P_NAME = 6  # E1394 8.1.6 patient name

O_SPECIMEN_ID = 3  # E1394 9.4.3 specimen ID
O_INSTRUMENT_SPECIMEN_ID = 4  # E1394 9.4.4 instrument specimen ID
O_TEST_ID = 5  # E1394 9.4.5 universal test ID
O_PRIORITY = 6  # E1394 9.4.6 priority
O_REQUESTED_AT = 7  # E1394 9.4.7 requested/ordered date and time
O_COLLECTED_AT = 8  # E1394 9.4.8 specimen collection date and time
O_ACTION_CODE = 12  # E1394 9.4.12 action code
O_REPORT_TYPE = 26  # E1394 9.4.26 report types

R_TEST_ID = 3  # E1394 10.1.3 universal test ID (^^^local code)
R_VALUE = 4  # E1394 10.1.4 data or measurement value
R_UNITS = 5  # E1394 10.1.5 units
R_REFERENCE_RANGES = 6  # E1394 10.1.6 reference ranges
R_FLAGS = 7  # E1394 10.1.7 result abnormal flags
R_ABNORMALITY_NATURE = 8  # E1394 10.1.8 nature of abnormality testing
R_STATUS = 9  # E1394 10.1.9 result status (F final, P preliminary, C correction, X cannot be done, ...)
R_NORMS_CHANGED_AT = 10  # E1394 10.1.10 date of change in instrument normative values
R_OPERATOR = 11  # E1394 10.1.11 operator identification
R_STARTED_AT = 12  # E1394 10.1.12 date/time test started
R_COMPLETED_AT = 13  # E1394 10.1.13 date/time test completed
R_INSTRUMENT = 14  # E1394 10.1.14 instrument identification

C_SOURCE = 3  # E1394 11.1.3 comment source
C_TEXT = 4  # E1394 11.1.4 comment text
C_TYPE = 5  # E1394 11.1.5 comment type

Q_STARTING_RANGE = 3  # E1394 12.1.3 starting range ID number
Q_ENDING_RANGE = 4  # E1394 12.1.4 ending range ID number
Q_TEST_ID = 5  # E1394 12.1.5 universal test ID
Q_STATUS_CODES = 13  # E1394 12.1.13 request information status codes

L_TERMINATION_CODE = 3  # E1394 13.1.3 termination code (N normal, T sender aborted, R receiver abort, ...)
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
        if self.type == "H" and number == H_DELIMITERS:
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
        return d.repeat.join(encode_field(list(r), d) for r in items)
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
    comps = record.components(R_TEST_ID)
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
            sample_id = rec.value(O_SPECIMEN_ID) or None
        elif kind in ("H", "P", "L"):
            sample_id = None
        elif kind == "R":
            out.append(AstmResult(sample_id=sample_id, test_code=test_code_of(rec), value=rec.value(R_VALUE),
                                  units=rec.value(R_UNITS), flags=rec.value(R_FLAGS), status=rec.value(R_STATUS),
                                  completed_at=rec.value(R_COMPLETED_AT), instrument=rec.value(R_INSTRUMENT),
                                  sequence=rec.field(SEQUENCE)))
    return out


def sender_of(records: Iterable[Record]) -> str | None:
    """H.5 sender name or ID, as written (escapes resolved)."""
    for rec in records:
        if rec.type == "H":
            return rec.value(H_SENDER) or None
    return None
