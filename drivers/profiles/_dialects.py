"""Loaders for the binary, Modbus and ASTM profile sections (registered into SECTION_LOADERS)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from drivers.codecs.checksums import CRC_CATALOGUE
from drivers.profiles import SECTION_LOADERS, Profile
from drivers.profiles.tables import TomlTable

STRUCT_TYPES = {"u8": "B", "i8": "b", "u16": "H", "i16": "h", "u32": "I", "i32": "i", "f32": "f", "f64": "d"}
#: Field types that are not numbers: ``skip`` (``size`` bytes the source documents no meaning for; not kept).
BYTE_TYPES = ("skip",)
#: Parts of a framed binary frame, in wire order (``[binary].layout``); the CRC covers the parts between the
#: start-of-frame and the CRC. ``len8``/``len16`` give the payload length (``len16`` in ``byteorder``).
LAYOUT_PARTS = ("sof", "addr", "cmd", "len8", "len16", "payload", "crc", "eof")
DEFAULT_LAYOUT = ("sof", "addr", "cmd", "len8", "payload", "crc")
REGISTER_TYPES = ("uint16", "int16", "uint32", "int32", "float32", "string", "bits")
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


@dataclass(frozen=True)
class BinField:
    """A fixed-size field of a binary payload (``type`` in u8/i8/u16/i16/u32/i32/f32/f64, or ``skip`` with
    ``size`` bytes), or a repeated ``group`` of fields: its count is an earlier field (``count_field``) or
    fixed (``count``); ``stride`` is the distance between items' starts (default: an item's size; the last
    item then ends after its fields); ``present_field`` names an earlier bit-map field whose bits say which
    items hold a value (``present_order`` ``msb_first``: the first item is the top bit), and ``index_field``
    receives each item's 1-based position."""

    name: str
    type: str = "u8"
    unit: str | None = None
    bits: tuple[tuple[str, int], ...] = ()
    count_field: str | None = None
    fields: tuple[BinField, ...] = ()
    size: int = 0
    count: int | None = None
    stride: int | None = None
    present_field: str | None = None
    present_order: str = "msb_first"
    index_field: str | None = None


@dataclass(frozen=True)
class BinCommand:
    """A command: its code, request and reply fields; ``reply_code`` when the device answers with another
    code than ``code`` (or ``code | reply_flag``). Fixed framing: ``request_hex`` is sent as is and the reply
    is ``reply_length`` bytes."""

    name: str
    code: int
    request: tuple[BinField, ...]
    reply: tuple[BinField, ...]
    reply_code: int | None = None
    request_bytes: bytes = b""
    reply_length: int | None = None


@dataclass(frozen=True)
class DownloadSpec:
    """A device that is asked for its stored records (``[binary.download]``): optional ``handshake``
    command, then ``command`` (with ``request`` values), then ``next_command`` after each reply (fixed
    framing) until ``end_reply`` — or, framed, replies until ``total_field`` records arrived. Each record's
    ``sequence_field`` (1-based) is checked for gaps."""

    command: str
    request: dict[str, int]
    handshake: str | None = None
    next_command: str | None = None
    end_reply: bytes = b""
    total_field: str | None = None
    sequence_field: str | None = None


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
    framing: str = "framed"  # or "fixed": no start/CRC; a reply is the length its command declares
    layout: tuple[str, ...] = DEFAULT_LAYOUT
    eof: bytes = b""
    download: DownloadSpec | None = None


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
class ModbusWorklist:
    """Where a Modbus device takes the sample IDs of a worklist (``[modbus.worklist]``): ``positions`` IDs of
    ``id_registers`` registers each (ASCII, two characters per register, first in the high byte, NUL padded)
    from holding register ``first_register``, and their number in holding register ``count_register``."""

    count_register: int
    first_register: int
    id_registers: int
    positions: int


@dataclass(frozen=True)
class ModbusDialect:
    device_id: int
    word_order: str
    port: int
    timeout_s: float
    registers: dict[str, RegisterSpec]
    worklist: ModbusWorklist | None = None


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
    section.check_keys({"name", "type", "unit", "bits", "count_field", "fields", "size", "count", "stride",
                        "present_field", "present_order", "index_field"})
    if "fields" in section.data:
        count = section.get("count", int, None)
        if (count is None) == ("count_field" not in section.data):
            raise section.error("count", "a group needs exactly one of count_field and count")
        return BinField(name=section.get("name", str), type="group", count_field=section.get("count_field", str, None),
                        fields=tuple(_bin_field(f) for f in section.tables("fields")), count=count,
                        stride=section.get("stride", int, None), present_field=section.get("present_field", str, None),
                        present_order=section.get("present_order", str, "msb_first",
                                                  choices=("msb_first", "lsb_first")),
                        index_field=section.get("index_field", str, None))
    ftype = section.get("type", str, "u8", choices=tuple(STRUCT_TYPES) + BYTE_TYPES)
    size = section.get("size", int, 0 if ftype != "skip" else ...)
    if ftype == "skip" and size < 1:
        raise section.error("size", "a skip field needs size >= 1")
    return BinField(name=section.get("name", str), type=ftype, unit=section.get("unit", str, None),
                    bits=_bits(section, "bits"), size=size)


def _bin_fields(section: TomlTable, key: str) -> tuple[BinField, ...]:
    if key not in section.data or section.data[key] == []:
        return ()
    fields = tuple(_bin_field(f) for f in section.tables(key))
    seen: set[str] = set()
    for i, f in enumerate(fields):
        if f.type == "group" and f.count_field is not None and f.count_field not in seen:
            raise section.error(f"{key}[{i}].count_field", f"{f.count_field!r} is not an earlier field")
        if f.type == "group" and f.present_field is not None and f.present_field not in seen:
            raise section.error(f"{key}[{i}].present_field", f"{f.present_field!r} is not an earlier field")
        seen.add(f.name)
    return fields


def _hex(section: TomlTable, key: str, default: str | None = None) -> bytes:
    try:
        return bytes.fromhex(section.get(key, str, ... if default is None else default))
    except ValueError:
        raise section.error(key, "expected hex bytes, e.g. \"AA\"") from None


def _load_command(cmd: TomlTable, fixed: bool) -> BinCommand:
    cmd.check_keys({"name", "code", "request", "reply", "reply_code", "request_hex", "reply_length"})
    c = BinCommand(name=cmd.get("name", str), code=cmd.get("code", int, 0), request=_bin_fields(cmd, "request"),
                   reply=_bin_fields(cmd, "reply"), reply_code=cmd.get("reply_code", int, None),
                   request_bytes=_hex(cmd, "request_hex", ""), reply_length=cmd.get("reply_length", int, None))
    if not 0 <= c.code <= 255 or not 0 <= (c.reply_code or 0) <= 255:
        raise cmd.error("code", "command code must be 0..255")
    if fixed and (not c.request_bytes or c.reply_length is None):
        raise cmd.error("request_hex", "fixed framing: every command needs request_hex and reply_length")
    return c


def _load_download(section: TomlTable | None, commands: dict[str, BinCommand]) -> DownloadSpec | None:
    if section is None:
        return None
    section.check_keys({"command", "request", "handshake", "next_command", "end_reply", "total_field",
                        "sequence_field"})
    request = section.data.get("request", {})
    if not isinstance(request, dict) or not all(isinstance(v, int) for v in request.values()):
        raise section.error("request", "expected a table of integer field values")
    spec = DownloadSpec(command=section.get("command", str), request=dict(request),
                        handshake=section.get("handshake", str, None), next_command=section.get("next_command", str, None),
                        end_reply=_hex(section, "end_reply", ""), total_field=section.get("total_field", str, None),
                        sequence_field=section.get("sequence_field", str, None))
    for key in ("command", "handshake", "next_command"):
        name = getattr(spec, key)
        if name is not None and name not in commands:
            raise section.error(key, f"{name!r} is not a declared command")
    return spec


def _load_binary(section: TomlTable) -> BinaryDialect:
    section.check_keys({"sof", "crc", "byteorder", "address", "reply_flag", "error_code", "error_fields",
                        "timeout_s", "commands", "framing", "layout", "eof", "download"})
    framing = section.get("framing", str, "framed", choices=("framed", "fixed"))
    layout = tuple(section.data.get("layout", DEFAULT_LAYOUT))
    if framing == "framed" and (not set(layout) <= set(LAYOUT_PARTS) or layout[0] != "sof"
                                or not {"cmd", "payload", "crc"} <= set(layout)
                                or len({"len8", "len16"} & set(layout)) != 1):
        raise section.error("layout", f"parts of {LAYOUT_PARTS}, starting with sof, with cmd, one length, "
                                      "payload and crc")
    sof = _hex(section, "sof", "" if framing == "fixed" else None)
    if framing == "framed" and not sof:
        raise section.error("sof", "must not be empty")
    commands: dict[str, BinCommand] = {}
    for cmd in section.tables("commands"):
        c = _load_command(cmd, framing == "fixed")
        commands[c.name] = c
    return BinaryDialect(
        sof=sof, crc=section.get("crc", str, "none" if framing == "fixed" else ...,
                                 choices=tuple(CRC_CATALOGUE) + ("none",)),
        byteorder=section.get("byteorder", str, "big", choices=("big", "little")),
        address=section.get("address", int, 1), reply_flag=section.get("reply_flag", int, 0x80),
        error_code=section.get("error_code", int, None), error_fields=_bin_fields(section, "error_fields"),
        timeout_s=float(section.get("timeout_s", (int, float), 0.5)), commands=commands, framing=framing,
        layout=layout, eof=_hex(section, "eof", ""),
        download=_load_download(section.table("download", required=False), commands))


def _load_modbus_worklist(section: TomlTable | None) -> ModbusWorklist | None:
    if section is None:
        return None
    section.check_keys({"count_register", "first_register", "id_registers", "positions"})
    spec = ModbusWorklist(count_register=section.get("count_register", int),
                          first_register=section.get("first_register", int),
                          id_registers=section.get("id_registers", int, 8), positions=section.get("positions", int))
    if not 1 <= spec.id_registers <= 32:
        raise section.error("id_registers", "must be 1..32 registers")
    if not 1 <= spec.positions <= 500:
        raise section.error("positions", "must be 1..500")
    last = spec.first_register + spec.positions * spec.id_registers - 1
    if not 0 <= spec.count_register <= 0xFFFF or not 0 <= spec.first_register or last > 0xFFFF:
        raise section.error("first_register", "the worklist registers must lie in 0..65535")
    if spec.first_register <= spec.count_register <= last:
        raise section.error("count_register", "lies inside the sample-ID registers")
    return spec


def _load_modbus(section: TomlTable) -> ModbusDialect:
    section.check_keys({"device_id", "word_order", "port", "timeout_s", "registers", "worklist"})
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
                         timeout_s=float(section.get("timeout_s", (int, float), 1.0)), registers=registers,
                         worklist=_load_modbus_worklist(section.table("worklist", required=False)))


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
