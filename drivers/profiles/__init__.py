"""Device profiles declared as data (TOML files in this folder), validated when loaded.

A profile names its dialect (``ascii_line``, ``binary_frame``, ``modbus``, ``astm``) and carries that
dialect's section; a new model of an existing dialect is a new file, no code. Errors name the file and the
dotted key (``line.records[1].fields[3].type``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from drivers.errors import ProfileError
from drivers.profiles.tables import TomlTable

if TYPE_CHECKING:
    from drivers.profiles._dialects import AstmSettings, BinaryDialect, ModbusDialect

PROFILE_DIR = Path(__file__).resolve().parent
DIALECTS = ("ascii_line", "binary_frame", "modbus", "astm")
FIELD_TYPES = ("int", "float", "str")
LINE_CHECKSUMS = ("none", "xor8", "sum8")
PARITIES = ("N", "E", "O", "M", "S")


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class SerialSettings:
    """Serial line settings (pyserial names)."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    xonxoff: bool = False
    rtscts: bool = False
    timeout_s: float = 0.1


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record: conversion ``type`` (int/float/str), ``unit``, optional checks."""

    name: str
    type: str = "str"
    unit: str | None = None
    pattern: str | None = None
    datetime_format: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    width: int | None = None

    def convert(self, text: str) -> str | int | float:
        """Convert and check one field's text; ``ValueError`` says why it is rejected."""
        if self.width is not None and len(text) != self.width:
            raise ValueError(f"expected {self.width} characters, got {len(text)}")
        if self.pattern is not None and re.fullmatch(self.pattern, text) is None:
            raise ValueError(f"{text!r} does not match /{self.pattern}/")
        if self.datetime_format is not None:
            try:
                datetime.strptime(text, self.datetime_format)
            except ValueError:
                raise ValueError(f"{text!r} is not a date/time in format {self.datetime_format!r}") from None
        value: str | int | float
        if self.type == "int":
            if re.fullmatch(r"[+-]?[0-9]+", text) is None:
                raise ValueError(f"not an integer: {text!r}")
            value = int(text)
        elif self.type == "float":
            if re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", text) is None:
                raise ValueError(f"not a number: {text!r}")
            value = float(text)
        else:
            return text
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{text} is below the minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{text} is above the maximum {self.maximum:g}")
        return value


@dataclass(frozen=True)
class RecordSpec:
    """A record type of a line dialect: its tag, ordered fields and which fields carry sample/channel."""

    tag: str
    fields: tuple[FieldSpec, ...]
    sample_id_field: str | None = None
    channel_field: str | None = None
    description: str = ""
    sequence_field: str | None = None  # a counter the device increments per record (gaps are reported)


@dataclass(frozen=True)
class GroupSpec:
    """How records of a line dialect group into one run: ``start`` … ``item``* … ``end``."""

    start: str
    item: str
    end: str
    key_field: str
    count_field: str | None = None
    expected_items_field: str | None = None


@dataclass(frozen=True)
class LineDialect:
    """ASCII line dialect: ``<start><TAG><sep>field…[<marker>HH]<terminator>``."""

    terminator: bytes
    start: bytes
    separator: str
    checksum: str
    checksum_marker: bytes
    checksum_digits: int
    encoding: str
    max_line_bytes: int
    resync_on_start: bool
    records: dict[str, RecordSpec]
    group: GroupSpec | None = None
    checksum_covers_start: bool = False
    checksum_covers_marker: bool = False
    ack: bytes | None = None
    nak: bytes | None = None


@dataclass(frozen=True)
class ValueSpec:
    """How one field's number is read (the profile's ``[values.<field>]``, any dialect): ``scale`` applied
    to the number on the wire, ``sentinels`` (wire values meaning "no value", e.g. 0x7FFE), the valid range
    after scaling and the unit. A value outside them becomes a typed state, never a number."""

    unit: str | None = None
    scale: float = 1.0
    sentinels: tuple[float, ...] = ()
    valid_min: float | None = None
    valid_max: float | None = None


@dataclass(frozen=True)
class Profile:
    """A device profile. Exactly one dialect section (``line``, ``binary``, ``modbus``, ``astm``) is set."""

    name: str
    path: Path
    dialect: str
    manufacturer: str = ""
    model: str = ""
    description: str = ""
    transport: str = "serial"
    serial: SerialSettings = field(default_factory=SerialSettings)
    line: LineDialect | None = None
    binary: BinaryDialect | None = None
    modbus: ModbusDialect | None = None
    astm: AstmSettings | None = None
    values: dict[str, ValueSpec] = field(default_factory=dict)
    sources: tuple[str, ...] = ()  # public documents the profile was written from (repository @ commit : path)


# --------------------------------------------------------------------------- validation helpers


def _text_bytes(section: TomlTable, name: str, default: str, encoding: str = "latin-1") -> bytes:
    text: str = section.get(name, str, default)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        raise section.error(name, f"not encodable as {encoding}") from None


def _load_values(section: TomlTable | None) -> dict[str, ValueSpec]:
    if section is None:
        return {}
    out: dict[str, ValueSpec] = {}
    for name in section.data:
        spec = section.table(name)
        assert spec is not None
        spec.check_keys({"unit", "scale", "sentinels", "valid_min", "valid_max"})
        sentinels = spec.data.get("sentinels", [])
        if not isinstance(sentinels, list) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                                      for v in sentinels):
            raise spec.error("sentinels", "expected a list of numbers")
        lo, hi = spec.get("valid_min", (int, float), None), spec.get("valid_max", (int, float), None)
        if lo is not None and hi is not None and lo > hi:
            raise spec.error("valid_min", "greater than valid_max")
        out[name] = ValueSpec(unit=spec.get("unit", str, None), scale=float(spec.get("scale", (int, float), 1.0)),
                              sentinels=tuple(float(v) for v in sentinels), valid_min=lo, valid_max=hi)
    return out


def _load_serial(section: TomlTable | None) -> SerialSettings:
    if section is None:
        return SerialSettings()
    section.check_keys({"baudrate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts", "timeout_s"})
    return SerialSettings(
        baudrate=section.get("baudrate", int, 9600),
        bytesize=section.get("bytesize", int, 8, choices=(5, 6, 7, 8)),
        parity=section.get("parity", str, "N", choices=PARITIES),
        stopbits=section.get("stopbits", (int, float), 1, choices=(1, 1.5, 2)),
        xonxoff=section.get("xonxoff", bool, False),
        rtscts=section.get("rtscts", bool, False),
        timeout_s=float(section.get("timeout_s", (int, float), 0.1)),
    )


def load_field(section: TomlTable) -> FieldSpec:
    """Validate one field table (shared by the line and binary dialects)."""
    section.check_keys({"name", "type", "unit", "pattern", "datetime_format", "min", "max", "width"})
    pattern = section.get("pattern", str, None)
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise section.error("pattern", f"invalid regular expression: {exc}") from None
    return FieldSpec(
        name=section.get("name", str),
        type=section.get("type", str, "str", choices=FIELD_TYPES),
        unit=section.get("unit", str, None),
        pattern=pattern,
        datetime_format=section.get("datetime_format", str, None),
        minimum=section.get("min", (int, float), None),
        maximum=section.get("max", (int, float), None),
        width=section.get("width", int, None),
    )


def _load_record(section: TomlTable) -> RecordSpec:
    section.check_keys({"tag", "fields", "sample_id_field", "channel_field", "description", "sequence_field"})
    fields = tuple(load_field(f) for f in section.tables("fields"))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise section.error("fields", "duplicate field names")
    sample = section.get("sample_id_field", str, None)
    channel = section.get("channel_field", str, None)
    sequence = section.get("sequence_field", str, None)
    for key, value in (("sample_id_field", sample), ("channel_field", channel), ("sequence_field", sequence)):
        if value is not None and value not in names:
            raise section.error(key, f"{value!r} is not one of this record's fields")
    for key, value in (("channel_field", channel), ("sequence_field", sequence)):
        if value is not None and next(f for f in fields if f.name == value).type != "int":
            raise section.error(key, f"the {key.removesuffix('_field')} field must have type 'int'")
    return RecordSpec(tag=section.get("tag", str), fields=fields, sample_id_field=sample,
                      channel_field=channel, description=section.get("description", str, ""),
                      sequence_field=sequence)


def _load_line(section: TomlTable) -> LineDialect:
    section.check_keys({"terminator", "start", "separator", "checksum", "checksum_marker", "checksum_digits",
                        "encoding", "max_line_bytes", "resync_on_start", "records", "group",
                        "checksum_covers_start", "checksum_covers_marker", "ack", "nak"})
    encoding = section.get("encoding", str, "ascii")
    try:
        "".encode(encoding)
    except LookupError:
        raise section.error("encoding", f"unknown encoding {encoding!r}") from None
    terminator = _text_bytes(section, "terminator", "\r\n")
    if not terminator:
        raise section.error("terminator", "must not be empty")
    records: dict[str, RecordSpec] = {}
    for rec in section.tables("records"):
        spec = _load_record(rec)
        if spec.tag in records:
            raise rec.error("tag", f"duplicate record tag {spec.tag!r}")
        records[spec.tag] = spec
    group = None
    gsec = section.table("group", required=False)
    if gsec is not None:
        gsec.check_keys({"start", "item", "end", "key_field", "count_field", "expected_items_field"})
        group = GroupSpec(start=gsec.get("start", str), item=gsec.get("item", str), end=gsec.get("end", str),
                          key_field=gsec.get("key_field", str), count_field=gsec.get("count_field", str, None),
                          expected_items_field=gsec.get("expected_items_field", str, None))
        for key, tag in (("start", group.start), ("item", group.item), ("end", group.end)):
            if tag not in records:
                raise gsec.error(key, f"record tag {tag!r} is not declared in records")
            if group.key_field not in {f.name for f in records[tag].fields}:
                raise gsec.error("key_field", f"record {tag!r} has no field {group.key_field!r}")
        if group.count_field and group.count_field not in {f.name for f in records[group.end].fields}:
            raise gsec.error("count_field", f"record {group.end!r} has no field {group.count_field!r}")
        if group.expected_items_field and group.expected_items_field not in {
                f.name for f in records[group.start].fields}:
            raise gsec.error("expected_items_field", f"record {group.start!r} has no such field")
    checksum = section.get("checksum", str, "none", choices=LINE_CHECKSUMS)
    return LineDialect(
        terminator=terminator,
        start=_text_bytes(section, "start", ""),
        separator=section.get("separator", str, ","),
        checksum=checksum,
        checksum_marker=_text_bytes(section, "checksum_marker", "*" if checksum != "none" else ""),
        checksum_digits=section.get("checksum_digits", int, 2, choices=(2,)),
        encoding=encoding,
        max_line_bytes=section.get("max_line_bytes", int, 512),
        resync_on_start=section.get("resync_on_start", bool, True),
        records=records,
        group=group,
        checksum_covers_start=section.get("checksum_covers_start", bool, False),
        checksum_covers_marker=section.get("checksum_covers_marker", bool, False),
        ack=_text_bytes(section, "ack", "") or None,
        nak=_text_bytes(section, "nak", "") or None,
    )


#: Validates a dialect's section and returns the profile with that section set (each one typed).
SectionLoader: TypeAlias = Callable[[TomlTable, "Profile"], "Profile"]


def _with_line(section: TomlTable, profile: Profile) -> Profile:
    return replace(profile, line=_load_line(section))


# dialect name -> (section name, loader); the binary/modbus/astm loaders register themselves here.
SECTION_LOADERS: dict[str, tuple[str, SectionLoader]] = {"ascii_line": ("line", _with_line)}


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(text)
    return PROFILE_DIR / f"{text}.toml"


def load_profile(name_or_path: str | Path) -> Profile:
    """Load and validate a profile by name (file stem under ``drivers/profiles/``) or path."""
    from drivers.profiles import _dialects  # noqa: F401  (registers the other dialect loaders)

    path = _resolve(name_or_path)
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise ProfileError(f"no such profile (known: {known})", file=file) from None
    except OSError as exc:
        raise ProfileError(f"cannot read: {exc.strerror or exc}", file=file) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"not valid TOML: {exc}", file=file) from None
    root = TomlTable(data, file, "")
    meta = root.table("profile")
    assert meta is not None
    meta.check_keys({"name", "dialect", "manufacturer", "model", "description", "transport", "sources"})
    sources = meta.data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(x, str) for x in sources):
        raise meta.error("sources", "expected a list of strings")
    dialect = meta.get("dialect", str, choices=DIALECTS)
    section_name, loader = SECTION_LOADERS[dialect]
    allowed = {"profile", "serial", "values", section_name}
    root.check_keys(allowed)
    section = root.table(section_name)
    profile = Profile(
        name=meta.get("name", str, path.stem),
        path=path,
        dialect=dialect,
        manufacturer=meta.get("manufacturer", str, ""),
        model=meta.get("model", str, ""),
        description=meta.get("description", str, ""),
        transport=meta.get("transport", str, "serial", choices=("serial", "tcp", "tcp-server", "modbus-tcp",
                                                                "modbus-rtu", "file")),
        serial=_load_serial(root.table("serial", required=False)),
        values=_load_values(root.table("values", required=False)),
        sources=tuple(sources),
    )
    assert section is not None
    return loader(section, profile)


def available_profiles() -> list[str]:
    """Names of the profiles shipped in ``drivers/profiles/``."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))
