"""Loaders for the binary, Modbus and ASTM profile sections (registered into SECTION_LOADERS)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from drivers.codecs.checksums import CRC_CATALOGUE
from drivers.profiles import SECTION_LOADERS, Profile
from drivers.profiles.tables import TomlTable

STRUCT_TYPES = {"u8": "B", "i8": "b", "u16": "H", "i16": "h", "u32": "I", "i32": "i", "f32": "f", "f64": "d"}
REGISTER_TYPES = ("uint16", "int16", "uint32", "int32", "float32", "string", "bits")
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


@dataclass(frozen=True)
class BinField:
    """A fixed-size field of a binary payload (``type`` in u8/i8/u16/i16/u32/i32/f32/f64), or a repeated
    ``group`` of fields whose count is an earlier field."""

    name: str
    type: str = "u8"
    unit: str | None = None
    bits: tuple[tuple[str, int], ...] = ()
    count_field: str | None = None
    fields: tuple[BinField, ...] = ()


@dataclass(frozen=True)
class BinCommand:
    name: str
    code: int
    request: tuple[BinField, ...]
    reply: tuple[BinField, ...]


@dataclass(frozen=True)
class BinaryDialect:
    """``SOF ADDR CMD LEN PAYLOAD CRC``; the CRC covers ADDR … PAYLOAD (SOF excluded)."""

    sof: bytes
    crc: str
    byteorder: str
    address: int
    reply_flag: int
    error_code: int | None
    error_fields: tuple[BinField, ...]
    timeout_s: float
    commands: dict[str, BinCommand]


@dataclass(frozen=True)
class RegisterSpec:
    """A Modbus register-map entry."""

    name: str
    table: str
    address: int
    type: str
    count: int
    scale: float = 1.0
    unit: str | None = None
    bits: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ModbusDialect:
    device_id: int
    word_order: str
    port: int
    timeout_s: float
    registers: dict[str, RegisterSpec]


@dataclass(frozen=True)
class AstmSettings:
    """E1381/E1394 link settings for a data system."""

    role: str
    encoding: str
    tcp_port: int | None
    busy_retry_s: float
    sender_timeout_s: float
    receiver_timeout_s: float


def _bits(section: TomlTable, key: str) -> tuple[tuple[str, int], ...]:
    sub = section.table(key, required=False)
    if sub is None:
        return ()
    out = []
    for name in sub.data:
        bit = sub.get(name, int)
        if not 0 <= bit <= 31:
            raise sub.error(name, "bit number must be 0..31")
        out.append((name, bit))
    return tuple(out)


def _bin_field(section: TomlTable) -> BinField:
    section.check_keys({"name", "type", "unit", "bits", "count_field", "fields"})
    if "fields" in section.data:
        return BinField(name=section.get("name", str), type="group", count_field=section.get("count_field", str),
                        fields=tuple(_bin_field(f) for f in section.tables("fields")))
    return BinField(name=section.get("name", str), type=section.get("type", str, "u8", choices=tuple(STRUCT_TYPES)),
                    unit=section.get("unit", str, None), bits=_bits(section, "bits"))


def _bin_fields(section: TomlTable, key: str) -> tuple[BinField, ...]:
    if key not in section.data or section.data[key] == []:
        return ()
    fields = tuple(_bin_field(f) for f in section.tables(key))
    seen: set[str] = set()
    for i, f in enumerate(fields):
        if f.type == "group" and f.count_field not in seen:
            raise section.error(f"{key}[{i}].count_field", f"{f.count_field!r} is not an earlier field")
        seen.add(f.name)
    return fields


def _load_binary(section: TomlTable) -> BinaryDialect:
    section.check_keys({"sof", "crc", "byteorder", "address", "reply_flag", "error_code", "error_fields",
                        "timeout_s", "commands"})
    try:
        sof = bytes.fromhex(section.get("sof", str))
    except ValueError:
        raise section.error("sof", "expected hex bytes, e.g. \"AA\"") from None
    if not sof:
        raise section.error("sof", "must not be empty")
    commands: dict[str, BinCommand] = {}
    for cmd in section.tables("commands"):
        cmd.check_keys({"name", "code", "request", "reply"})
        c = BinCommand(name=cmd.get("name", str), code=cmd.get("code", int), request=_bin_fields(cmd, "request"),
                       reply=_bin_fields(cmd, "reply"))
        if not 0 <= c.code <= 255:
            raise cmd.error("code", "command code must be 0..255")
        commands[c.name] = c
    return BinaryDialect(
        sof=sof, crc=section.get("crc", str, choices=tuple(CRC_CATALOGUE)),
        byteorder=section.get("byteorder", str, "big", choices=("big", "little")),
        address=section.get("address", int, 1), reply_flag=section.get("reply_flag", int, 0x80),
        error_code=section.get("error_code", int, None), error_fields=_bin_fields(section, "error_fields"),
        timeout_s=float(section.get("timeout_s", (int, float), 0.5)), commands=commands)


def _load_modbus(section: TomlTable) -> ModbusDialect:
    section.check_keys({"device_id", "word_order", "port", "timeout_s", "registers"})
    word_order = section.get("word_order", str, "ABCD", choices=WORD_ORDERS)
    registers: dict[str, RegisterSpec] = {}
    for reg in section.tables("registers"):
        reg.check_keys({"name", "table", "address", "type", "count", "scale", "unit", "bits"})
        rtype = reg.get("type", str, choices=REGISTER_TYPES)
        default_count = {"uint16": 1, "int16": 1, "bits": 1, "uint32": 2, "int32": 2, "float32": 2}.get(rtype)
        count = reg.get("count", int, default_count if default_count is not None else ...)
        if default_count is not None and count != default_count:
            raise reg.error("count", f"type {rtype} uses {default_count} register(s)")
        spec = RegisterSpec(name=reg.get("name", str), table=reg.get("table", str, choices=("holding", "input")),
                            address=reg.get("address", int), type=rtype, count=count,
                            scale=float(reg.get("scale", (int, float), 1.0)), unit=reg.get("unit", str, None),
                            bits=_bits(reg, "bits"))
        if not 0 <= spec.address <= 0xFFFF:
            raise reg.error("address", "register address must be 0..65535")
        registers[spec.name] = spec
    return ModbusDialect(device_id=section.get("device_id", int, 1), word_order=word_order,
                         port=section.get("port", int, 502),
                         timeout_s=float(section.get("timeout_s", (int, float), 1.0)), registers=registers)


def _load_astm(section: TomlTable) -> AstmSettings:
    section.check_keys({"role", "encoding", "tcp_port", "busy_retry_s", "sender_timeout_s", "receiver_timeout_s"})
    return AstmSettings(role=section.get("role", str, "computer", choices=("computer", "instrument")),
                        encoding=section.get("encoding", str, "latin-1"), tcp_port=section.get("tcp_port", int, None),
                        busy_retry_s=float(section.get("busy_retry_s", (int, float), 10.0)),
                        sender_timeout_s=float(section.get("sender_timeout_s", (int, float), 15.0)),
                        receiver_timeout_s=float(section.get("receiver_timeout_s", (int, float), 30.0)))


def _with_binary(section: TomlTable, profile: Profile) -> Profile:
    return replace(profile, binary=_load_binary(section))


def _with_modbus(section: TomlTable, profile: Profile) -> Profile:
    return replace(profile, modbus=_load_modbus(section))


def _with_astm(section: TomlTable, profile: Profile) -> Profile:
    return replace(profile, astm=_load_astm(section))


SECTION_LOADERS.update({"binary_frame": ("binary", _with_binary), "modbus": ("modbus", _with_modbus),
                        "astm": ("astm", _with_astm)})
